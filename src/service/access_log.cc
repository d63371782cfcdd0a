#include "src/service/access_log.h"

#include <algorithm>

#include "src/vault/sqlite_database.h"

namespace consentd::service {

Status AccessLog::EnsureSchema(sqlite3* db) {
  return vault::Exec(db,
                     "CREATE TABLE IF NOT EXISTS access_log(id INTEGER PRIMARY KEY, at_ms INTEGER NOT NULL,"
                     " token_id TEXT NOT NULL, sid BLOB NOT NULL, what TEXT NOT NULL);"
                     "CREATE INDEX IF NOT EXISTS access_log_by_sid ON access_log(sid, at_ms);");
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
  // Grow geometrically: reserving exactly size()+n on every call would
  // reallocate and copy the whole queue once per query, under the lock.
  if (queue_.capacity() < queue_.size() + sids.size())
    queue_.reserve(std::max(queue_.capacity() * 2, queue_.size() + sids.size()));
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
  std::stable_sort(rows.begin(), rows.end(),
                   [](const AccessRecord& a, const AccessRecord& b) { return a.sid < b.sid; });
  Status s = writer_.Write({}, [&](sqlite3* db, auto) { return Insert(db, rows); });
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
