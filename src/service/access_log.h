// AccessLog: who read which subject's data, and when (docs/api.md "Access
// log"). Rows name the token id, the pseudonym and the route, never an
// identifier.
//
// Two paths: RecordNow writes durably before returning (officer reads of
// history and evidence, which decrypt personal data), one `access_log` row
// per read; Record queues the read and a background thread writes queued
// reads in one transaction every `flush_interval` (marketing consent
// queries, which answer a yes/no about an identifier the caller already
// holds; a synchronous fsync per query would cap them at the disk's fsync
// rate). Queued reads not yet flushed are written at shutdown; a crash can
// lose at most one interval of them.
//
// Queued reads are stored as one `access_batches` row per flush, token and
// kind of read: the interval's first and last time, the number of reads and
// the pseudonyms read, sorted (one 16-byte sid per read, repeats kept). A
// row per read with an index by sid cost a random B-tree insert per query:
// at tens of thousands of queries a second that index's page writes took a
// third of consentd's CPU. ReadsOf answers "who read this subject" from
// both tables (a scan of the batches, a binary search in each).
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

// Reads of one subject: one access_log row (first_ms == last_ms, reads 1)
// or the reads of one access_batches row.
struct AccessRead {
  int64_t first_ms = 0;
  int64_t last_ms = 0;
  std::string token_id;
  std::string what;
  int64_t reads = 0;
};

class AccessLog {
 public:
  static Status EnsureSchema(sqlite3* db);
  // Every logged read of `sid`, durable ones first then batches, each in
  // write order. The caller holds `db` for the duration.
  static Status ReadsOf(sqlite3* db, const domain::Sid& sid, std::vector<AccessRead>* out);
  // At most this many reads per access_batches row (16 bytes each).
  static constexpr size_t kMaxReadsPerBatch = 65536;

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
  static Status InsertBatches(sqlite3* db, std::vector<AccessRecord>& rows);
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
