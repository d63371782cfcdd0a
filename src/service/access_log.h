// AccessLog: who read which subject's data, and when (docs/api.md "Access
// log"). Rows name the token id, the pseudonym and the route, never an
// identifier.
//
// Two paths: RecordNow writes durably before returning (officer reads of
// history and evidence, which decrypt personal data); Record queues the row
// and a background thread writes queued rows in one transaction every
// `flush_interval` (marketing consent queries, which answer a yes/no about
// an identifier the caller already holds; a synchronous fsync per query
// would cap them at the disk's fsync rate). Queued rows not yet flushed are
// written at shutdown; a crash can lose at most one interval of them.
//
// Thread-safety: thread-safe.
#ifndef CONSENTD_SERVICE_ACCESS_LOG_H_
#define CONSENTD_SERVICE_ACCESS_LOG_H_

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <span>
#include <string>
#include <thread>
#include <vector>

#include "src/base/clock.h"
#include "src/domain/sid.h"
#include "src/vault/ledger_writer.h"

struct sqlite3;

namespace consentd::service {

struct AccessRecord {
  int64_t at_millis = 0;
  std::string token_id;
  domain::Sid sid;
  std::string what;  // route name or operation, e.g. "consent.query"
};

class AccessLog {
 public:
  static Status EnsureSchema(sqlite3* db);

  AccessLog(vault::LedgerWriter& writer, const Clock& clock,
            std::chrono::milliseconds flush_interval = std::chrono::milliseconds(200));
  ~AccessLog();  // flushes
  AccessLog(const AccessLog&) = delete;
  AccessLog& operator=(const AccessLog&) = delete;

  // Durable when OK.
  Status RecordNow(const std::string& token_id, const domain::Sid& sid, const std::string& what);
  // Queued; written within the flush interval.
  void Record(const std::string& token_id, const domain::Sid& sid, const std::string& what);
  // Record() of each sid, under one lock (a bulk check reads 10,000).
  void RecordMany(const std::string& token_id, std::span<const domain::Sid> sids, const std::string& what);
  // Writes everything queued so far.
  Status Flush();

 private:
  static Status Insert(sqlite3* db, const std::vector<AccessRecord>& rows);
  void Run();

  vault::LedgerWriter& writer_;
  const Clock& clock_;
  const std::chrono::milliseconds interval_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<AccessRecord> queue_;  // guarded by mu_
  bool stop_ = false;                // guarded by mu_
  std::thread thread_;
};

}  // namespace consentd::service

#endif  // CONSENTD_SERVICE_ACCESS_LOG_H_
