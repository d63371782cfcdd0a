#include "ledger/verifier.h"

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <map>

#include "ledger/checkpoint.h"
#include "ledger/entry.h"
#include "ledger/merkle.h"
#include "src/base/bytes.h"

namespace consentd::ledger {
namespace {

constexpr uint64_t kProgressEvery = 1 << 16;

// A checkpoint to check against the recomputed tree.
struct Expectation {
  uint64_t size = 0;
  Hash root{};
  bool trusted = false;  // saved by the auditor (vs stored by the log)
};

// Checks entries one by one, in order.
class ChainChecker {
 public:
  // Adds the entry expected at position size(); `stored_hashes` is the
  // stored subtree hashes, or nullptr when there are none (exports).
  bool Add(std::string_view entry, const std::string_view* stored_hashes, VerifyReport* report) {
    const uint64_t pos = frontier_.size();
    Result<EntryView> e = ParseEntry(entry);
    if (!e.ok()) return Fail(report, pos, e.status().message());
    if (e->seq != pos) return Fail(report, pos, "entry holds seq " + std::to_string(e->seq));
    if (e->prev != last_hash_) {
      return Fail(report, pos, pos == 0 ? "prev of the first entry is not all zeros"
                                        : "prev does not match the hash of entry " + std::to_string(pos - 1));
    }
    if (e->time_millis < last_time_) return Fail(report, pos, "time is earlier than the previous entry's");
    Hash leaf = LeafHash(AsBytes(entry));
    frontier_.Append(leaf, &completed_);
    if (stored_hashes) {
      if (stored_hashes->size() != completed_.size() * 32) {
        return Fail(report, pos, "stored subtree hashes have the wrong length");
      }
      for (size_t i = 0; i < completed_.size(); ++i) {
        if (std::memcmp(stored_hashes->data() + 32 * i, completed_[i].data(), 32) != 0) {
          return Fail(report, pos, i == 0 ? "entry bytes do not match the stored leaf hash"
                                          : "stored subtree hash at level " + std::to_string(i) + " is wrong");
        }
      }
    }
    last_hash_ = leaf;
    last_time_ = e->time_millis;
    return true;
  }

  uint64_t size() const { return frontier_.size(); }
  Hash Root() const { return frontier_.Root(); }

 private:
  static bool Fail(VerifyReport* report, uint64_t seq, std::string problem) {
    report->ok = false;
    report->bad_seq = seq;
    report->problem = "entry " + std::to_string(seq) + ": " + std::move(problem);
    return false;
  }

  TreeFrontier frontier_;
  std::vector<Hash> completed_;
  Hash last_hash_{};
  int64_t last_time_ = 0;
};

// Parses and verifies one signed checkpoint note.
Result<Checkpoint> CheckSignedCheckpoint(std::string_view note_text, const VerifyOptions& options) {
  Result<Note> note = ParseNote(note_text);
  if (!note.ok()) return note.status();
  Result<Checkpoint> c = ParseCheckpointBody(note->text);
  if (!c.ok()) return c.status();
  if (!options.expected_origin.empty() && c->origin != options.expected_origin) {
    return Status::InvalidArgument("origin is '" + c->origin + "', expected '" + options.expected_origin + "'");
  }
  if (options.keys.empty()) return Status::InvalidArgument("no verifier key given");
  Result<std::vector<std::string>> v = VerifyNote(*note, options.keys);
  if (!v.ok()) return v.status();
  return c;
}

// Drives a ChainChecker over entries from `next` and checks expectations at
// their sizes.
class Run {
 public:
  Run(const VerifyOptions& options, uint64_t total) : options_(options), total_(total) {}

  // Adds expectations from signed notes; false (report filled) on a bad one.
  bool AddCheckpoints(const std::vector<std::string>& notes, bool trusted, VerifyReport* report) {
    for (const std::string& n : notes) {
      Result<Checkpoint> c = CheckSignedCheckpoint(n, options_);
      if (!c.ok()) {
        report->ok = false;
        Result<Note> parsed = ParseNote(n);
        Result<Checkpoint> body = parsed.ok() ? ParseCheckpointBody(parsed->text) : Result<Checkpoint>(parsed.status());
        if (body.ok()) report->bad_checkpoint = body->size;
        report->problem = std::string(trusted ? "trusted" : "stored") + " checkpoint" +
                          (body.ok() ? " of size " + std::to_string(body->size) : std::string()) + ": " +
                          c.status().message();
        return false;
      }
      expect_.emplace(c->size, Expectation{c->size, c->root, trusted});
      if (!trusted) ++report->checkpoints;
    }
    return true;
  }

  // Checks expectations at size 0 before any entry.
  bool Start(VerifyReport* report) { return CheckAt(0, report); }

  bool Add(std::string_view entry, const std::string_view* stored, VerifyReport* report) {
    if (!chain_.Add(entry, stored, report)) return false;
    uint64_t n = chain_.size();
    if (options_.progress && n % kProgressEvery == 0) options_.progress(n, total_);
    return CheckAt(n, report);
  }

  bool Finish(VerifyReport* report) {
    uint64_t n = chain_.size();
    report->entries = n;
    report->root = chain_.Root();
    if (options_.progress) options_.progress(n, total_);
    auto it = expect_.upper_bound(n);
    if (it != expect_.end()) {
      report->ok = false;
      report->bad_seq = n;
      report->bad_checkpoint = it->first;
      report->problem = std::string(it->second.trusted ? "trusted" : "stored") + " checkpoint of size " +
                        std::to_string(it->first) + " covers entries the ledger does not have: entry " +
                        std::to_string(n) + " onwards is missing (truncated or rolled back)";
      return false;
    }
    report->ok = true;
    return true;
  }

 private:
  bool CheckAt(uint64_t n, VerifyReport* report) {
    auto [lo, hi] = expect_.equal_range(n);
    if (lo == hi) return true;
    Hash root = chain_.Root();
    for (auto it = lo; it != hi; ++it) {
      if (it->second.root == root) continue;
      report->ok = false;
      report->bad_checkpoint = n;
      report->problem = it->second.trusted
                            ? "the ledger does not extend the trusted checkpoint of size " + std::to_string(n) +
                                  ": its root at that size differs (fork or rewrite)"
                            : "stored checkpoint of size " + std::to_string(n) +
                                  " has a root that the entries do not produce";
      if (n > 0) report->bad_seq = n - 1;
      return false;
    }
    return true;
  }

  const VerifyOptions& options_;
  uint64_t total_;
  ChainChecker chain_;
  std::multimap<uint64_t, Expectation> expect_;
};

}  // namespace

std::string VerifyReport::Summary() const {
  if (ok) {
    return "OK: " + std::to_string(entries) + " entries, " + std::to_string(checkpoints) +
           " signed checkpoints verified, root " + Base64Encode(AsBytes(root));
  }
  std::string out = "FAIL";
  if (bad_seq) out += " at seq " + std::to_string(*bad_seq);
  out += ": " + problem;
  return out;
}

VerifyReport VerifyLedger(const Ledger& ledger, const VerifyOptions& options) {
  VerifyReport report;
  VerifyOptions opts = options;
  if (opts.expected_origin.empty()) opts.expected_origin = ledger.origin();
  Run run(opts, ledger.Size());
  Result<std::vector<StoredCheckpoint>> stored = ledger.ListCheckpoints();
  if (!stored.ok()) {
    report.problem = "cannot read stored checkpoints: " + stored.status().message();
    return report;
  }
  std::vector<std::string> notes;
  for (const StoredCheckpoint& c : *stored) notes.push_back(c.signed_note);
  if (!run.AddCheckpoints(notes, false, &report)) return report;
  if (!run.AddCheckpoints(opts.trusted_checkpoints, true, &report)) return report;
  if (!run.Start(&report)) return report;
  uint64_t expected = 0;
  bool failed = false;
  // Scan every row, not just [0, Size()): rows past the head also count.
  Status s = ledger.ScanStored(0, UINT64_MAX, [&](uint64_t seq, std::string_view entry, std::string_view hashes) {
    if (seq != expected) {
      report.ok = false;
      report.bad_seq = expected;
      report.problem = "entry " + std::to_string(expected) + ": missing (next stored entry is " + std::to_string(seq) + ")";
      failed = true;
      return Status::Corruption(report.problem);
    }
    ++expected;
    if (!run.Add(entry, &hashes, &report)) {
      failed = true;
      return Status::Corruption(report.problem);
    }
    return Status::Ok();
  });
  if (failed) return report;
  if (!s.ok()) {
    report.ok = false;
    report.problem = "cannot read entries: " + s.message();
    return report;
  }
  if (!run.Finish(&report)) return report;
  // The root column of each row is a copy of the signed root (§5); a copy
  // that differs means the row was altered.
  for (const StoredCheckpoint& c : *stored) {
    if (c.root_column != c.checkpoint.root) {
      report.ok = false;
      report.bad_checkpoint = c.checkpoint.size;
      report.problem = "stored checkpoint of size " + std::to_string(c.checkpoint.size) +
                       ": its root column does not match its signed note";
      return report;
    }
  }
  return report;
}

VerifyReport VerifyExport(const std::string& path, const std::vector<std::string>& checkpoint_notes,
                          const VerifyOptions& options) {
  VerifyReport report;
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (!f) {
    report.problem = "cannot open " + path;
    return report;
  }
  std::fseek(f, 0, SEEK_END);
  long file_size = std::ftell(f);
  std::fseek(f, 0, SEEK_SET);
  Run run(options, 0);
  (void)file_size;
  if (!run.AddCheckpoints(checkpoint_notes, false, &report) ||
      !run.AddCheckpoints(options.trusted_checkpoints, true, &report) || !run.Start(&report)) {
    std::fclose(f);
    return report;
  }
  // Lines are read in 1 MiB chunks; an entry is at most kMaxEntryBytes.
  std::string buf;
  std::vector<char> chunk(1 << 20);
  uint64_t line_no = 0;
  bool ok = true;
  size_t got;
  while (ok && (got = std::fread(chunk.data(), 1, chunk.size(), f)) > 0) {
    buf.append(chunk.data(), got);
    size_t start = 0;
    size_t nl;
    while ((nl = buf.find('\n', start)) != std::string::npos) {
      std::string_view line(buf.data() + start, nl - start);
      if (!run.Add(line, nullptr, &report)) {
        ok = false;
        break;
      }
      ++line_no;
      start = nl + 1;
    }
    buf.erase(0, start);
    if (buf.size() > 65536 + 1) {
      report.ok = false;
      report.bad_seq = line_no;
      report.problem = "entry " + std::to_string(line_no) + ": line longer than an entry may be";
      ok = false;
    }
  }
  std::fclose(f);
  if (!ok) return report;
  if (!buf.empty()) {
    report.ok = false;
    report.bad_seq = line_no;
    report.problem = "entry " + std::to_string(line_no) + ": last line is not terminated by a newline (truncated file?)";
    return report;
  }
  run.Finish(&report);
  return report;
}

}  // namespace consentd::ledger
