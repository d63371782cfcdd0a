#include "src/witness/publisher.h"

#include <sqlite3.h>

#include <algorithm>
#include <nlohmann/json.hpp>
#include <set>

namespace consentd::witness {
namespace {

constexpr size_t kRecentSizes = 256;  // cosignature sets kept in memory
constexpr int kMaxResends = 3;        // 409 answers followed in one exchange

Status SqlStatus(sqlite3* db, int rc, std::string_view what) {
  return Status::IOError(std::string(what) + ": " + (db ? sqlite3_errmsg(db) : sqlite3_errstr(rc)));
}

// A statement finalized when it goes out of scope.
struct Query {
  sqlite3_stmt* st = nullptr;
  ~Query() { sqlite3_finalize(st); }
};

std::string Text(sqlite3_stmt* st, int col) {
  const unsigned char* p = sqlite3_column_text(st, col);
  return p ? std::string(reinterpret_cast<const char*>(p), static_cast<size_t>(sqlite3_column_bytes(st, col)))
           : std::string();
}

}  // namespace

CheckpointPublisher::CheckpointPublisher(ledger::Ledger& ledger, PublisherOptions options)
    : ledger_(ledger), options_(std::move(options)), clock_(options_.clock ? options_.clock : &SystemClock::Get()) {}

Result<std::unique_ptr<CheckpointPublisher>> CheckpointPublisher::Start(ledger::Ledger& ledger, PublisherOptions options) {
  if (options.quorum > options.witnesses.size()) {
    return Status::InvalidArgument("witness quorum " + std::to_string(options.quorum) + " exceeds the " +
                                   std::to_string(options.witnesses.size()) + " configured witnesses");
  }
  std::set<std::string> names;
  for (const WitnessEndpoint& w : options.witnesses) {
    if (!names.insert(w.name).second) return Status::InvalidArgument("witness '" + w.name + "' is configured twice");
    if (w.key.type != 0x04) return Status::InvalidArgument("witness '" + w.name + "': key must be a cosignature (type 0x04) key");
  }
  if (!options.witnesses.empty() && !options.transport) return Status::InvalidArgument("witnesses need a transport");
  std::unique_ptr<CheckpointPublisher> p(new CheckpointPublisher(ledger, std::move(options)));
  Status s = p->Load();
  if (!s.ok()) return s;
  for (size_t i = 0; i < p->options_.witnesses.size(); ++i) {
    p->threads_.emplace_back([raw = p.get(), i] { raw->RunWitness(i); });
  }
  return p;
}

CheckpointPublisher::~CheckpointPublisher() {
  {
    std::lock_guard<std::mutex> l(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  for (std::thread& t : threads_) t.join();
}

Status CheckpointPublisher::Load() {
  std::map<std::string, uint64_t> sizes;
  std::map<uint64_t, std::map<std::string, std::string>> cosigs;
  Result<std::vector<ledger::AppendedEntry>> r = ledger_.Append({}, [&](sqlite3* db, std::span<const ledger::AppendedEntry>) {
    char* err = nullptr;
    int rc = sqlite3_exec(db,
                          "CREATE TABLE IF NOT EXISTS ledger_witnesses(name TEXT PRIMARY KEY, size INTEGER NOT NULL,"
                          " updated_ms INTEGER NOT NULL);"
                          "CREATE TABLE IF NOT EXISTS ledger_cosignatures(size INTEGER NOT NULL, witness TEXT NOT NULL,"
                          " line TEXT NOT NULL, created_ms INTEGER NOT NULL, PRIMARY KEY(size, witness));",
                          nullptr, nullptr, &err);
    if (rc != SQLITE_OK) {
      Status s = Status::IOError(std::string("create witness tables: ") + (err ? err : ""));
      sqlite3_free(err);
      return s;
    }
    Query q;
    rc = sqlite3_prepare_v2(db, "SELECT name, size FROM ledger_witnesses", -1, &q.st, nullptr);
    if (rc != SQLITE_OK) return SqlStatus(db, rc, "read witnesses");
    while ((rc = sqlite3_step(q.st)) == SQLITE_ROW) sizes[Text(q.st, 0)] = static_cast<uint64_t>(sqlite3_column_int64(q.st, 1));
    if (rc != SQLITE_DONE) return SqlStatus(db, rc, "read witnesses");
    Query c;
    rc = sqlite3_prepare_v2(db, "SELECT size, witness, line FROM ledger_cosignatures ORDER BY size DESC LIMIT ?", -1, &c.st,
                            nullptr);
    if (rc != SQLITE_OK) return SqlStatus(db, rc, "read cosignatures");
    sqlite3_bind_int64(c.st, 1, static_cast<sqlite3_int64>(kRecentSizes * std::max<size_t>(1, options_.witnesses.size())));
    while ((rc = sqlite3_step(c.st)) == SQLITE_ROW) {
      cosigs[static_cast<uint64_t>(sqlite3_column_int64(c.st, 0))][Text(c.st, 1)] = Text(c.st, 2);
    }
    if (rc != SQLITE_DONE) return SqlStatus(db, rc, "read cosignatures");
    return Status::Ok();
  });
  if (!r.ok()) return r.status();
  Result<ledger::StoredCheckpoint> latest = ledger_.LatestCheckpoint();
  if (!latest.ok() && latest.status().code() != StatusCode::kNotFound) return latest.status();
  std::lock_guard<std::mutex> l(mu_);
  witness_size_ = std::move(sizes);
  cosignatures_ = std::move(cosigs);
  if (latest.ok()) latest_ = std::move(*latest);
  RecomputePublishedLocked();
  return Status::Ok();
}

void CheckpointPublisher::OnSigned(const ledger::StoredCheckpoint& checkpoint) {
  {
    std::lock_guard<std::mutex> l(mu_);
    if (latest_ && latest_->checkpoint.size >= checkpoint.checkpoint.size) return;
    latest_ = checkpoint;
    RecomputePublishedLocked();
  }
  cv_.notify_all();
}

Result<Published> CheckpointPublisher::Current() const {
  std::lock_guard<std::mutex> l(mu_);
  if (!published_) {
    return Status::NotFound(options_.quorum > 0 ? "no checkpoint has " + std::to_string(options_.quorum) +
                                                      " witness cosignatures yet"
                                                : "no checkpoint has been signed yet");
  }
  return *published_;
}

uint64_t CheckpointPublisher::published_size() const {
  std::lock_guard<std::mutex> l(mu_);
  return published_ ? published_->size : 0;
}

bool CheckpointPublisher::WaitForPublished(uint64_t size, std::chrono::milliseconds timeout) const {
  std::unique_lock<std::mutex> l(mu_);
  return cv_.wait_for(l, timeout, [&] { return published_ && published_->size >= size; });
}

uint64_t CheckpointPublisher::witness_size(const std::string& witness) const {
  std::lock_guard<std::mutex> l(mu_);
  auto it = witness_size_.find(witness);
  return it == witness_size_.end() ? 0 : it->second;
}

void CheckpointPublisher::RecomputePublishedLocked() {
  std::set<std::string> configured;
  for (const WitnessEndpoint& w : options_.witnesses) configured.insert(w.name);
  auto lines_of = [&](uint64_t size) {
    std::vector<std::string> lines;
    auto it = cosignatures_.find(size);
    if (it == cosignatures_.end()) return lines;
    for (const auto& [name, block] : it->second) {
      if (configured.count(name)) lines.push_back(block);
    }
    return lines;
  };
  std::optional<Published> next;
  if (options_.quorum == 0) {
    if (!latest_) return;
    std::vector<std::string> lines = lines_of(latest_->checkpoint.size);
    next = Published{latest_->checkpoint.size, NoteWithCosignatures(latest_->signed_note, lines), lines.size()};
  } else {
    for (auto it = cosignatures_.rbegin(); it != cosignatures_.rend(); ++it) {
      std::vector<std::string> lines = lines_of(it->first);
      if (lines.size() < options_.quorum) continue;
      if (published_ && published_->size == it->first && published_->cosignatures == lines.size()) return;
      std::string note;
      if (latest_ && latest_->checkpoint.size == it->first) {
        note = latest_->signed_note;
      } else {
        Result<ledger::StoredCheckpoint> cp = ledger_.CheckpointAt(it->first);
        if (!cp.ok()) continue;  // cosigned but not stored here: never publish it
        note = cp->signed_note;
      }
      next = Published{it->first, NoteWithCosignatures(note, lines), lines.size()};
      break;
    }
  }
  // Never go back to an older checkpoint.
  if (next && (!published_ || next->size >= published_->size)) published_ = std::move(next);
}

void CheckpointPublisher::Log(bool error, std::string_view event, const nlohmann::json& fields) const {
  if (!options_.logger) return;
  if (error) {
    options_.logger->Error(event, fields);
  } else {
    options_.logger->Warn(event, fields);
  }
}

Status CheckpointPublisher::Store(const std::string& witness, uint64_t size, const std::string& block) {
  const int64_t now = clock_->NowMillis();
  Result<std::vector<ledger::AppendedEntry>> r = ledger_.Append({}, [&](sqlite3* db, std::span<const ledger::AppendedEntry>) {
    Query c;
    int rc = sqlite3_prepare_v2(db, "INSERT OR REPLACE INTO ledger_cosignatures(size, witness, line, created_ms) VALUES (?, ?, ?, ?)",
                                -1, &c.st, nullptr);
    if (rc != SQLITE_OK) return SqlStatus(db, rc, "store cosignature");
    sqlite3_bind_int64(c.st, 1, static_cast<sqlite3_int64>(size));
    sqlite3_bind_text(c.st, 2, witness.data(), static_cast<int>(witness.size()), SQLITE_STATIC);
    sqlite3_bind_text(c.st, 3, block.data(), static_cast<int>(block.size()), SQLITE_STATIC);
    sqlite3_bind_int64(c.st, 4, now);
    if ((rc = sqlite3_step(c.st)) != SQLITE_DONE) return SqlStatus(db, rc, "store cosignature");
    Query w;
    rc = sqlite3_prepare_v2(db, "INSERT OR REPLACE INTO ledger_witnesses(name, size, updated_ms) VALUES (?, ?, ?)", -1, &w.st,
                            nullptr);
    if (rc != SQLITE_OK) return SqlStatus(db, rc, "store witness size");
    sqlite3_bind_text(w.st, 1, witness.data(), static_cast<int>(witness.size()), SQLITE_STATIC);
    sqlite3_bind_int64(w.st, 2, static_cast<sqlite3_int64>(size));
    sqlite3_bind_int64(w.st, 3, now);
    if ((rc = sqlite3_step(w.st)) != SQLITE_DONE) return SqlStatus(db, rc, "store witness size");
    return Status::Ok();
  });
  if (!r.ok()) return r.status();
  {
    std::lock_guard<std::mutex> l(mu_);
    witness_size_[witness] = size;
    cosignatures_[size][witness] = block;
    while (cosignatures_.size() > kRecentSizes) cosignatures_.erase(cosignatures_.begin());
    RecomputePublishedLocked();
  }
  cv_.notify_all();
  return Status::Ok();
}

Status CheckpointPublisher::Cosign(size_t i, const ledger::StoredCheckpoint& cp) {
  const WitnessEndpoint& w = options_.witnesses[i];
  Result<ledger::Note> note = ledger::ParseNote(cp.signed_note);
  if (!note.ok()) return note.status();
  uint64_t old = witness_size(w.name);
  for (int attempt = 0; attempt <= kMaxResends; ++attempt) {
    if (old > cp.checkpoint.size) {
      return Status::FailedPrecondition("witness " + w.name + " has cosigned size " + std::to_string(old) +
                                        ", beyond the log's checkpoint of size " + std::to_string(cp.checkpoint.size));
    }
    std::vector<Hash> proof;
    if (old > 0 && old < cp.checkpoint.size) {
      Result<std::vector<Hash>> p = ledger_.ConsistencyProof(old, cp.checkpoint.size);
      if (!p.ok()) return p.status();
      proof = std::move(*p);
    }
    Result<WitnessResponse> resp = options_.transport(w, AddCheckpointBody(old, proof, cp.signed_note));
    if (!resp.ok()) return resp.status();
    if (resp->status == 200) {
      Result<std::vector<std::string>> lines = VerifiedCosignatureLines(resp->body, w.key, note->text);
      if (!lines.ok()) return lines.status();
      std::string block;
      for (size_t k = 0; k < lines->size(); ++k) block += (k ? "\n" : "") + (*lines)[k];
      return Store(w.name, cp.checkpoint.size, block);
    }
    if (resp->status == 409) {
      Result<uint64_t> size = ParseTlogSize(resp->body);
      if (!size.ok()) return Status::Unavailable("witness " + w.name + " answered 409 without a size");
      Log(false, "witness.resync", {{"witness", w.name}, {"sent_old", old}, {"witness_size", *size}});
      old = *size;
      continue;
    }
    return Status::Unavailable("witness " + w.name + " answered " + std::to_string(resp->status));
  }
  return Status::Unavailable("witness " + w.name + " kept answering 409");
}

void CheckpointPublisher::RunWitness(size_t i) {
  using SteadyClock = std::chrono::steady_clock;
  const std::string name = options_.witnesses[i].name;
  std::chrono::milliseconds backoff{0};
  SteadyClock::time_point next_attempt = SteadyClock::now();
  std::unique_lock<std::mutex> l(mu_);
  while (true) {
    cv_.wait(l, [&] {
      if (stop_) return true;
      if (!latest_) return false;
      auto it = witness_size_.find(name);
      auto cs = cosignatures_.find(latest_->checkpoint.size);
      return it == witness_size_.end() || it->second < latest_->checkpoint.size || cs == cosignatures_.end() ||
             !cs->second.count(name);
    });
    if (stop_) return;
    if (SteadyClock::now() < next_attempt) {
      cv_.wait_until(l, next_attempt, [&] { return stop_; });
      continue;
    }
    ledger::StoredCheckpoint cp = *latest_;
    l.unlock();
    Status s = Cosign(i, cp);
    if (s.ok()) {
      backoff = std::chrono::milliseconds(0);
    } else {
      backoff = backoff.count() == 0 ? options_.retry_min : std::min(backoff * 2, options_.retry_max);
      next_attempt = SteadyClock::now() + backoff;
      Log(s.code() == StatusCode::kFailedPrecondition, "witness.failed",
          {{"witness", name}, {"size", cp.checkpoint.size}, {"error", s.ToString()}, {"retry_ms", backoff.count()}});
    }
    l.lock();
  }
}

}  // namespace consentd::witness
