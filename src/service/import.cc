#include "src/service/import.h"

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstring>
#include <deque>
#include <future>
#include <mutex>
#include <optional>
#include <set>
#include <thread>

#include "src/base/time_format.h"

namespace consentd::service {
namespace {

constexpr const char* kIdentifierColumns[] = {"email",           "phone",           "shopify_customer",
                                              "woocommerce_customer", "hubspot_contact", "salesforce_contact",
                                              "salesforce_lead", "klaviyo_profile", "mailchimp_member"};

// Reasons never carry a value: whatever a message quotes ("..." or '...')
// is replaced, whoever wrote it.
std::string Sanitize(std::string_view msg) {
  std::string out;
  char open = 0;
  for (char c : msg) {
    if (open) {
      if (c == open) {
        out += "...";
        out += c;
        open = 0;
      }
      continue;
    }
    if (c == '"' || c == '\'') open = c;
    out += c;
  }
  if (open) out += "...";
  if (out.size() > 200) out.resize(200);
  return out;
}

// One parsed batch, handed from the parser thread to the recorder.
struct Batch {
  std::vector<ConsentEvent> events;
  std::vector<uint64_t> lines;       // of events
  std::vector<RejectedRow> rejected; // rows refused while parsing
  uint64_t rows = 0;
  uint64_t bytes_read = 0;
  bool last = false;
  Status error = Status::Ok();       // a fatal error (bad header, I/O)
};

// A bounded queue of batches (the parser runs at most two batches ahead).
class BatchQueue {
 public:
  void Push(Batch b) {
    std::unique_lock<std::mutex> l(mu_);
    cv_.wait(l, [&] { return q_.size() < 2 || closed_; });
    if (closed_) return;
    q_.push_back(std::move(b));
    cv_.notify_all();
  }
  Batch Pop() {
    std::unique_lock<std::mutex> l(mu_);
    cv_.wait(l, [&] { return !q_.empty(); });
    Batch b = std::move(q_.front());
    q_.pop_front();
    cv_.notify_all();
    return b;
  }
  // The consumer gives up: Push returns at once from now on.
  void Close() {
    std::lock_guard<std::mutex> l(mu_);
    closed_ = true;
    cv_.notify_all();
  }
  bool closed() {
    std::lock_guard<std::mutex> l(mu_);
    return closed_;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Batch> q_;
  bool closed_ = false;
};

// Splits a file into rows: lines, or for CSV records whose quoted fields may
// hold line breaks. Rows longer than the limit are skipped unread.
class RowReader {
 public:
  RowReader(std::FILE* f, bool csv, size_t max_row) : f_(f), csv_(csv), max_row_(max_row), buf_(1 << 20) {}

  enum class Kind { kRow, kOversized, kEnd };
  // The next row (without its line break) and the line it starts on.
  Kind Next(std::string* row, uint64_t* line) {
    row->clear();
    // RFC 4180: a quote opens a quoted field only at the start of a field
    // (or right after a closing quote: "" is a quote); a stray quote inside
    // an unquoted field is data here and an error for SplitCsv.
    bool in_quotes = false, oversized = false, any = false;
    char last = ',';
    *line = line_ + 1;
    for (;;) {
      if (pos_ == len_) {
        len_ = std::fread(buf_.data(), 1, buf_.size(), f_);
        pos_ = 0;
        bytes_ += len_;
        if (len_ == 0) {
          if (!any) return Kind::kEnd;
          ++line_;
          return oversized ? Kind::kOversized : Kind::kRow;
        }
      }
      any = true;
      // Fast path: copy up to the next byte that matters.
      const char* start = buf_.data() + pos_;
      const char* end = buf_.data() + len_;
      const char* p = start;
      if (csv_) {
        while (p < end && *p != '\n' && *p != '"') ++p;
      } else {
        p = static_cast<const char*>(std::memchr(start, '\n', static_cast<size_t>(end - start)));
        if (p == nullptr) p = end;
      }
      if (!oversized) {
        if (row->size() + static_cast<size_t>(p - start) > max_row_) {
          oversized = true;
          row->clear();
        } else {
          row->append(start, p);
        }
      }
      pos_ += static_cast<size_t>(p - start);
      if (p > start) last = *(p - 1);
      if (pos_ == len_) continue;
      const char c = buf_[pos_++];
      if (c == '"') {
        if (in_quotes) {
          in_quotes = false;
          last = 'q';  // a closing quote: another quote right after re-opens
        } else {
          if (last == ',' || last == 'q') in_quotes = true;
          last = '"';
        }
        if (!oversized) row->push_back(c);
        continue;
      }
      last = c;
      // A line break.
      if (csv_ && in_quotes) {
        ++line_;
        if (!oversized) row->push_back(c);
        continue;
      }
      ++line_;
      if (!row->empty() && row->back() == '\r') row->pop_back();
      return oversized ? Kind::kOversized : Kind::kRow;
    }
  }
  uint64_t bytes() const { return bytes_; }

 private:
  std::FILE* f_;
  const bool csv_;
  const size_t max_row_;
  std::vector<char> buf_;
  size_t pos_ = 0, len_ = 0;
  uint64_t line_ = 0;
  uint64_t bytes_ = 0;
};

// RFC 4180 fields of one record. kInvalidArgument naming the problem.
Status SplitCsv(std::string_view rec, std::vector<std::string>* fields) {
  fields->clear();
  size_t i = 0;
  for (;;) {
    std::string f;
    if (i < rec.size() && rec[i] == '"') {
      ++i;
      for (;;) {
        if (i >= rec.size()) return Status::InvalidArgument("unterminated quoted field " + std::to_string(fields->size() + 1));
        if (rec[i] == '"') {
          if (i + 1 < rec.size() && rec[i + 1] == '"') {
            f.push_back('"');
            i += 2;
            continue;
          }
          ++i;
          break;
        }
        f.push_back(rec[i++]);
      }
      if (i < rec.size() && rec[i] != ',') {
        return Status::InvalidArgument("text after the closing quote of field " + std::to_string(fields->size() + 1));
      }
    } else {
      size_t end = rec.find(',', i);
      if (end == std::string_view::npos) end = rec.size();
      std::string_view raw = rec.substr(i, end - i);
      if (raw.find('"') != std::string_view::npos) {
        return Status::InvalidArgument("a quote inside unquoted field " + std::to_string(fields->size() + 1));
      }
      f.assign(raw);
      i = end;
    }
    fields->push_back(std::move(f));
    if (i >= rec.size()) return Status::Ok();
    ++i;  // the comma
    if (i == rec.size()) {
      fields->emplace_back();
      return Status::Ok();
    }
  }
}

// The columns of a CSV file, by header position.
class CsvSchema {
 public:
  Status Parse(std::string_view header) {
    std::vector<std::string> names;
    Status s = SplitCsv(header, &names);
    if (!s.ok()) return Status::InvalidArgument("CSV header: " + s.message());
    const std::vector<std::string>& known = CsvColumns();
    std::set<std::string> seen;
    bool has_identifier = false;
    for (std::string& n : names) {
      while (!n.empty() && n.back() == ' ') n.pop_back();
      if (std::find(known.begin(), known.end(), n) == known.end()) {
        return Status::InvalidArgument("CSV header: unknown column " + std::to_string(names_.size() + 1) +
                                       " (docs/import.md lists the columns)");
      }
      if (!seen.insert(n).second) return Status::InvalidArgument("CSV header: column " + n + " appears twice");
      for (const char* k : kIdentifierColumns) has_identifier = has_identifier || n == k;
      names_.push_back(n);
    }
    for (const char* required : {"decision", "occurred_at", "method"}) {
      if (!seen.count(required)) return Status::InvalidArgument(std::string("CSV header: column ") + required + " is required");
    }
    if (!has_identifier) return Status::InvalidArgument("CSV header: at least one identifier column is required");
    return Status::Ok();
  }

  // One record to an event. kInvalidArgument naming the column.
  Status Decode(const std::vector<std::string>& fields, ConsentEvent* out) const {
    if (fields.size() != names_.size()) {
      return Status::InvalidArgument("the row has " + std::to_string(fields.size()) + " fields, the header " +
                                     std::to_string(names_.size()));
    }
    ConsentEvent e;
    std::string qualifier, decision, occurred_at, method;
    std::vector<std::pair<std::string, std::string>> ids;
    for (size_t i = 0; i < fields.size(); ++i) {
      const std::string& n = names_[i];
      const std::string& v = fields[i];
      if (v.empty()) continue;
      auto bounded = [&](std::string* dst, size_t max) -> Status {
        if (v.size() > max) return Status::InvalidArgument(n + ": at most " + std::to_string(max) + " bytes");
        *dst = v;
        return Status::Ok();
      };
      Status s = Status::Ok();
      bool is_id = false;
      for (const char* k : kIdentifierColumns) is_id = is_id || n == k;
      if (is_id) {
        if (v.size() > 512) return Status::InvalidArgument(n + ": at most 512 bytes");
        ids.emplace_back(n, v);
      } else if (n == "qualifier") {
        s = bounded(&qualifier, 256);
      } else if (n == "purpose") {
        s = bounded(&e.purpose, 64);
      } else if (n == "decision") {
        s = bounded(&decision, 16);
      } else if (n == "occurred_at") {
        s = bounded(&occurred_at, 64);
      } else if (n == "source_system") {
        s = bounded(&e.source.system, 64);
      } else if (n == "method") {
        s = bounded(&method, 32);
      } else if (n == "notice_id") {
        s = bounded(&e.notice_id, 64);
      } else if (n == "notice_version") {
        s = bounded(&e.notice_version, 64);
      } else if (n == "language") {
        s = bounded(&e.language, 35);
      } else if (n == "jurisdiction") {
        s = bounded(&e.jurisdiction, 64);
      } else if (n == "legal_basis") {
        s = bounded(&e.legal_basis, 64);
      } else if (n == "event_id") {
        s = bounded(&e.event_id, 128);
      } else if (n == "ip") {
        s = bounded(&e.evidence.ip, 64);
      } else if (n == "user_agent") {
        s = bounded(&e.evidence.user_agent, 1024);
      } else if (n == "url") {
        s = bounded(&e.evidence.url, 2048);
      } else if (n == "notice_text_version") {
        s = bounded(&e.evidence.notice_text_version, 128);
      }
      if (!s.ok()) return s;
    }
    if (ids.empty()) return Status::InvalidArgument("identifiers: the row has none");
    for (auto& [kind, value] : ids) {
      Result<domain::IdentifierKind> k = domain::IdentifierKind::Parse(kind);
      if (!k.ok()) return Status::InvalidArgument(kind + ": unknown identifier kind");
      e.identifiers.push_back(domain::Identifier{*k, std::move(value), k->IsSystemId() ? qualifier : ""});
    }
    if (decision.empty()) return Status::InvalidArgument("decision: is required");
    Result<domain::Decision> d = domain::ParseDecision(decision);
    if (!d.ok()) return Status::InvalidArgument("decision: granted or withdrawn");
    e.decision = *d;
    if (occurred_at.empty()) return Status::InvalidArgument("occurred_at: is required");
    Result<int64_t> t = ParseRfc3339(occurred_at);
    if (!t.ok()) return Status::InvalidArgument("occurred_at: not an RFC 3339 date-time");
    e.occurred_at_ms = *t;
    if (method.empty()) return Status::InvalidArgument("method: is required");
    Result<domain::ConsentMethod> m = domain::ParseConsentMethod(method);
    if (!m.ok()) return Status::InvalidArgument("method: not a consent method");
    e.source.method = *m;
    if (!e.notice_version.empty() && e.notice_id.empty()) {
      return Status::InvalidArgument("notice_version: needs notice_id");
    }
    Status fs = ConsentService::ValidateEventFormat(e);
    if (!fs.ok()) return fs;
    *out = std::move(e);
    return Status::Ok();
  }

 private:
  std::vector<std::string> names_;
};

// The parser thread: reads rows, decodes them, hands batches over.
void Parse(std::FILE* f, const ImportOptions& options, BatchQueue* queue) {
  const bool csv = options.format == ImportFormat::kCsv;
  RowReader reader(f, csv, options.max_row_bytes);
  CsvSchema schema;
  bool header = csv;
  Batch batch;
  std::string row;
  std::vector<std::string> fields;
  uint64_t line = 0;
  size_t limit = std::max<size_t>(1, std::min(options.first_batch_events, options.batch_events));
  auto flush = [&](bool last) {
    batch.bytes_read = reader.bytes();
    batch.last = last;
    queue->Push(std::move(batch));
    batch = Batch();
  };
  for (;;) {
    RowReader::Kind kind = reader.Next(&row, &line);
    if (kind == RowReader::Kind::kEnd) break;
    if (header) {
      if (kind == RowReader::Kind::kOversized) {
        batch.error = Status::InvalidArgument("CSV header: longer than the row limit");
        return flush(true);
      }
      Status s = schema.Parse(row);
      if (!s.ok()) {
        batch.error = s;
        return flush(true);
      }
      header = false;
      continue;
    }
    if (kind == RowReader::Kind::kRow && row.find_first_not_of(" \t") == std::string::npos) continue;  // blank
    ++batch.rows;
    if (kind == RowReader::Kind::kOversized) {
      batch.rejected.push_back({line, "row longer than " + std::to_string(options.max_row_bytes) + " bytes"});
      continue;
    }
    ConsentEvent e;
    Status s = Status::Ok();
    if (csv) {
      s = SplitCsv(row, &fields);
      if (s.ok()) s = schema.Decode(fields, &e);
    } else {
      s = options.decode_json(row, &e);
    }
    if (!s.ok()) {
      batch.rejected.push_back({line, Sanitize(s.message())});
      continue;
    }
    batch.events.push_back(std::move(e));
    batch.lines.push_back(line);
    if (batch.events.size() >= limit) {
      limit = std::min(limit * 2, options.batch_events);
      flush(false);
      if (queue->closed()) return;
    }
  }
  if (std::ferror(f)) batch.error = Status::IOError("read error");
  flush(true);
}

}  // namespace

Result<ImportFormat> ParseImportFormat(std::string_view name) {
  if (name == "jsonl") return ImportFormat::kJsonLines;
  if (name == "csv") return ImportFormat::kCsv;
  return Status::InvalidArgument("--format: jsonl or csv");
}

ImportFormat ImportFormatOf(std::string_view path) {
  return path.size() >= 4 && path.substr(path.size() - 4) == ".csv" ? ImportFormat::kCsv : ImportFormat::kJsonLines;
}

const std::vector<std::string>& CsvColumns() {
  static const std::vector<std::string> kColumns = [] {
    std::vector<std::string> c(std::begin(kIdentifierColumns), std::end(kIdentifierColumns));
    for (const char* n : {"qualifier", "purpose", "decision", "occurred_at", "source_system", "method", "notice_id",
                          "notice_version", "language", "jurisdiction", "legal_basis", "event_id", "ip", "user_agent",
                          "url", "notice_text_version"}) {
      c.emplace_back(n);
    }
    return c;
  }();
  return kColumns;
}

std::string ImportReport::ToText() const {
  char secs[64];
  std::snprintf(secs, sizeof(secs), "%.2f s, %.0f rows/s", seconds, seconds > 0 ? static_cast<double>(rows) / seconds : 0.0);
  std::string out = std::to_string(rows) + " rows: " + std::to_string(recorded) + " recorded (" +
                    std::to_string(entries) + " new entries), " + std::to_string(duplicates) +
                    " already recorded, " + std::to_string(rejected) + " rejected (" + secs + ")\n";
  if (rejected == 0) return out;
  out += "rejected rows by reason:\n";
  for (const auto& [reason, n] : reasons) out += "  " + std::to_string(n) + "\t" + reason + "\n";
  out += "rejected rows";
  if (listed.size() < rejected) out += " (first " + std::to_string(listed.size()) + ")";
  out += ":\n";
  for (const RejectedRow& r : listed) out += "  line " + std::to_string(r.line) + ": " + r.reason + "\n";
  return out;
}

Result<ImportReport> ImportFile(ConsentService& service, const std::string& path, const ImportOptions& options) {
  if (options.format == ImportFormat::kJsonLines && !options.decode_json) {
    return Status::InvalidArgument("import: no JSON event decoder");
  }
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (f == nullptr) return errno == ENOENT ? Status::NotFound("cannot open " + path) : Status::IOError("cannot open " + path);
  struct Closer {
    std::FILE* f;
    ~Closer() { std::fclose(f); }
  } closer{f};
  uint64_t total = 0;
  if (std::fseek(f, 0, SEEK_END) == 0) {
    long end = std::ftell(f);
    total = end > 0 ? static_cast<uint64_t>(end) : 0;
    std::rewind(f);
  }
  if (options.write_cache_kib > 0) {
    Status cs = service.SetWriteCacheKib(options.write_cache_kib);
    if (!cs.ok()) return cs;
  }
  const auto start = std::chrono::steady_clock::now();
  ImportReport report;
  BatchQueue queue;
  std::thread parser([&] { Parse(f, options, &queue); });
  Status fatal = Status::Ok();
  auto reject = [&](uint64_t line, std::string reason) {
    ++report.rejected;
    ++report.reasons[reason];
    if (report.listed.size() < options.max_listed || (!report.listed.empty() && line < report.listed.back().line)) {
      report.listed.push_back({line, std::move(reason)});
    }
  };
  // A pipeline on the machine's two cores. The parser thread reads batch
  // N+2; a resolver thread checks batch N+1 and plans its subjects, then
  // writes them (ConsentService::StartBatch: checks, identity transaction);
  // this thread prepares batch N+1's consent (PrepareRun) while those
  // subjects are written, and writes it once they are durable (FinishBatch).
  // The resolver starts batch N+1 only when batch N needs no resolution of
  // its own any more (ResolvedWhole), and its consent is prepared and
  // written after batch N's, so each subject's events keep the file's order
  // and the writer is rarely idle: batch N's consent is written while batch
  // N+1 is planned, and N+1's consent prepared while N+1's subjects are
  // written (docs/import.md).
  struct Started {
    Batch batch;
    std::optional<ConsentService::BatchInProgress> progress;
  };
  struct Launched {
    std::future<std::optional<ConsentService::PlannedRun>> planned;  // nullopt: nothing planned
    std::future<Started> started;
  };
  auto launch = [&] {
    auto planned = std::make_shared<std::promise<std::optional<ConsentService::PlannedRun>>>();
    Launched l;
    l.planned = planned->get_future();
    l.started = std::async(std::launch::async, [&, planned] {
      Started st{queue.Pop(), std::nullopt};
      bool told = false;
      if (st.batch.error.ok() && !options.one_by_one) {
        st.progress.emplace(service.StartBatch(st.batch.events, [&](ConsentService::PlannedRun run) {
          told = true;
          planned->set_value(std::move(run));
        }));
      }
      if (!told) planned->set_value(std::nullopt);
      return st;
    });
    return l;
  };
  Launched cur = launch();
  for (;;) {
    std::shared_ptr<ConsentService::PreparedRun> early;
    std::optional<ConsentService::PlannedRun> planned = cur.planned.get();
    if (planned) early = service.PrepareRun(std::move(*planned));
    Started st = cur.started.get();
    Batch& b = st.batch;
    if (!b.error.ok()) {
      fatal = b.error;
      break;
    }
    std::optional<Launched> next;
    if (!b.last && st.progress && st.progress->ResolvedWhole()) next = launch();
    report.rows += b.rows;
    for (RejectedRow& r : b.rejected) reject(r.line, std::move(r.reason));
    std::vector<Result<RecordResult>> results;
    if (options.one_by_one) {
      for (const ConsentEvent& e : b.events) results.push_back(service.Record(e));
    } else {
      results = service.FinishBatch(std::move(*st.progress), std::move(early));
    }
    for (size_t i = 0; i < results.size(); ++i) {
      if (!results[i].ok()) {
        reject(b.lines[i], Sanitize(results[i].status().message()));
        continue;
      }
      uint64_t fresh = 0;
      for (const RecordedConsent& c : results[i]->recorded) fresh += c.duplicate ? 0 : 1;
      report.entries += fresh;
      ++(fresh > 0 ? report.recorded : report.duplicates);
    }
    std::sort(report.listed.begin(), report.listed.end(),
              [](const RejectedRow& a, const RejectedRow& b2) { return a.line < b2.line; });
    if (report.listed.size() > options.max_listed) report.listed.resize(options.max_listed);
    if (options.progress) options.progress({b.bytes_read, total, report.rows, report.rejected});
    if (b.last) break;
    cur = next ? std::move(*next) : launch();
  }
  queue.Close();
  parser.join();
  if (!fatal.ok()) return fatal;
  report.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return report;
}

}  // namespace consentd::service
