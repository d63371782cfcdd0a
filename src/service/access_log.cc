#include "src/service/access_log.h"

#include <algorithm>
#include <ranges>
#include <tuple>

#include "src/base/bytes.h"
#include "src/vault/sqlite_database.h"

namespace consentd::service {

Status AccessLog::EnsureSchema(sqlite3* db) {
  return vault::Exec(db,
                     "CREATE TABLE IF NOT EXISTS access_log(id INTEGER PRIMARY KEY, at_ms INTEGER NOT NULL,"
                     " token_id TEXT NOT NULL, sid BLOB NOT NULL, what TEXT NOT NULL);"
                     "CREATE INDEX IF NOT EXISTS access_log_by_sid ON access_log(sid, at_ms);"
                     "CREATE TABLE IF NOT EXISTS access_batches(id INTEGER PRIMARY KEY, first_ms INTEGER NOT NULL,"
                     " last_ms INTEGER NOT NULL, token_id TEXT NOT NULL, what TEXT NOT NULL, reads INTEGER NOT NULL,"
                     " sids BLOB NOT NULL);");
}

Status AccessLog::ReadsOf(sqlite3* db, const domain::Sid& sid, std::vector<AccessRead>* out) {
  Result<vault::Stmt> rows =
      vault::Stmt::Prepare(db, "SELECT at_ms, token_id, what FROM access_log WHERE sid = ? ORDER BY id");
  if (!rows.ok()) return rows.status();
  rows->Bind(1, sid.bytes());
  while (true) {
    Result<bool> r = rows->Step();
    if (!r.ok()) return r.status();
    if (!*r) break;
    out->push_back({rows->Int(0), rows->Int(0), rows->Text(1), rows->Text(2), 1});
  }
  Result<vault::Stmt> batches = vault::Stmt::Prepare(
      db, "SELECT first_ms, last_ms, token_id, what, sids FROM access_batches ORDER BY id");
  if (!batches.ok()) return batches.status();
  const std::string_view key = AsChars(sid.bytes());
  constexpr size_t kSid = domain::Sid::kSize;
  while (true) {
    Result<bool> r = batches->Step();
    if (!r.ok()) return r.status();
    if (!*r) break;
    const std::string blob = batches->Blob(4);
    if (blob.size() % kSid != 0) return Status::Corruption("access_batches: sids not a whole number of sids");
    // The sorted 16-byte records equal to `key`.
    const auto records = std::views::iota(size_t{0}, blob.size() / kSid);
    const auto equal = std::ranges::equal_range(
        records, key, {}, [&](size_t i) { return std::string_view(blob).substr(i * kSid, kSid); });
    const int64_t n = static_cast<int64_t>(equal.size());
    if (n > 0) out->push_back({batches->Int(0), batches->Int(1), batches->Text(2), batches->Text(3), n});
  }
  return Status::Ok();
}

AccessLog::AccessLog(vault::LedgerWriter& writer, const Clock& clock, std::chrono::milliseconds flush_interval)
    : writer_(writer), clock_(clock), interval_(flush_interval) {
  thread_ = std::thread([this] { Run(); });
}

AccessLog::~AccessLog() {
  {
    std::lock_guard<std::mutex> l(mu_);
    stop_ = true;
  }
  cv_.notify_one();
  thread_.join();
  (void)Flush();
}

Status AccessLog::Insert(sqlite3* db, const std::vector<AccessRecord>& rows) {
  Result<vault::Stmt> ins =
      vault::Stmt::Prepare(db, "INSERT INTO access_log(at_ms, token_id, sid, what) VALUES (?, ?, ?, ?)");
  if (!ins.ok()) return ins.status();
  for (const AccessRecord& r : rows) {
    ins->Bind(1, r.at_millis).BindText(2, r.token_id).Bind(3, r.sid.bytes()).BindText(4, r.what);
    Status s = ins->Run();
    if (!s.ok()) return s;
    ins->Reset();
  }
  return Status::Ok();
}

Status AccessLog::InsertBatches(sqlite3* db, std::vector<AccessRecord>& rows) {
  // By token and kind of read, then sid: each group's sids come out sorted.
  std::sort(rows.begin(), rows.end(), [](const AccessRecord& a, const AccessRecord& b) {
    return std::tie(a.token_id, a.what, a.sid) < std::tie(b.token_id, b.what, b.sid);
  });
  Result<vault::Stmt> ins = vault::Stmt::Prepare(
      db, "INSERT INTO access_batches(first_ms, last_ms, token_id, what, reads, sids) VALUES (?, ?, ?, ?, ?, ?)");
  if (!ins.ok()) return ins.status();
  std::string sids;
  for (size_t b = 0; b < rows.size();) {
    size_t e = b;
    int64_t first = rows[b].at_millis, last = rows[b].at_millis;
    sids.clear();
    while (e < rows.size() && e - b < kMaxReadsPerBatch && rows[e].token_id == rows[b].token_id &&
           rows[e].what == rows[b].what) {
      first = std::min(first, rows[e].at_millis);
      last = std::max(last, rows[e].at_millis);
      sids.append(AsChars(rows[e].sid.bytes()));
      ++e;
    }
    ins->Bind(1, first).Bind(2, last).BindText(3, rows[b].token_id).BindText(4, rows[b].what);
    ins->Bind(5, static_cast<int64_t>(e - b)).Bind(6, AsBytes(sids));
    Status s = ins->Run();
    if (!s.ok()) return s;
    ins->Reset();
    b = e;
  }
  return Status::Ok();
}

Status AccessLog::RecordNow(const std::string& token_id, const domain::Sid& sid, const std::string& what) {
  std::vector<AccessRecord> rows{{clock_.NowMillis(), token_id, sid, what}};
  return writer_.Write({}, [&](sqlite3* db, auto) { return Insert(db, rows); });
}

void AccessLog::Record(const std::string& token_id, const domain::Sid& sid, const std::string& what) {
  RecordMany(token_id, std::span<const domain::Sid>(&sid, 1), what);
}

void AccessLog::RecordMany(const std::string& token_id, std::span<const domain::Sid> sids, const std::string& what) {
  if (sids.empty()) return;
  const int64_t now = clock_.NowMillis();
  std::lock_guard<std::mutex> l(mu_);
  // No reserve(size() + n): push_back grows geometrically, an exact
  // reserve per call copied the whole queue on every query.
  for (const domain::Sid& sid : sids) queue_.push_back({now, token_id, sid, what});
}

Status AccessLog::Flush() {
  std::vector<AccessRecord> rows;
  {
    std::lock_guard<std::mutex> l(mu_);
    rows.swap(queue_);
  }
  if (rows.empty()) return Status::Ok();
  // In sid order: the rows go into an index keyed by random sids, which a
  // sorted run walks page by page instead of jumping (a bulk check queues
  // 10,000 rows at once). Ids, like at_ms, then follow sid order within a
  // flush; the times stay exact.
  Status s = writer_.Write({}, [&](sqlite3* db, auto) { return InsertBatches(db, rows); });
  if (!s.ok()) {
    // Put them back for the next attempt rather than lose them.
    std::lock_guard<std::mutex> l(mu_);
    queue_.insert(queue_.begin(), rows.begin(), rows.end());
  }
  return s;
}

void AccessLog::Run() {
  std::unique_lock<std::mutex> l(mu_);
  while (!stop_) {
    cv_.wait_for(l, interval_, [&] { return stop_; });
    if (queue_.empty()) continue;
    l.unlock();
    (void)Flush();
    l.lock();
  }
}

}  // namespace consentd::service
