// DeliveryLog: the webhook events consentd has acted on, by system and the
// system's own delivery or event id (table webhook_deliveries), so that a
// replay answers 200 and changes nothing (docs/webhooks.md "De-duplication").
// Rows hold codes and ids only: system, dedupe key, topic, kind, outcome,
// ledger seq, time. No personal data.
//
// Two write paths:
//  - InsertIn writes a row inside the caller's transaction (access requests,
//    whose ledger entry, request row and delivery row commit together);
//  - Queue keeps the row in memory (Seen() sees it at once) and a background
//    thread writes queued rows in one transaction every `flush_interval`.
//    Used for consent events, whose durable de-duplication is the consent
//    service's own (the event id is the dedupe key, committed with the
//    ledger entry): a crash that loses queued rows only makes a replay go
//    through the consent service's duplicate check instead of this table.
//
// Thread-safety: thread-safe.
#ifndef CONSENTD_INGEST_DELIVERY_LOG_H_
#define CONSENTD_INGEST_DELIVERY_LOG_H_

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_set>
#include <vector>

#include "src/base/clock.h"
#include "src/base/result.h"
#include "src/vault/ledger_writer.h"
#include "src/vault/sqlite_database.h"

struct sqlite3;

namespace consentd::ingest {

struct DeliveryRow {
  std::string system;
  std::string dedupe_key;
  int64_t received_ms = 0;
  std::string topic;    // code
  std::string kind;     // adapters::IngestKindName
  std::string outcome;  // e.g. "apply", "stale", "ignored:unmapped_topic", "filed", "blocked"
  uint64_t seq = 0;     // the ledger entry, when one was written
};

class DeliveryLog {
 public:
  static Status EnsureSchema(sqlite3* db);
  // Writes `row` on `db` in the caller's open transaction. kAlreadyExists if
  // the key was recorded before.
  static Status InsertIn(sqlite3* db, const DeliveryRow& row);

  DeliveryLog(vault::LedgerWriter& writer, vault::Database& db,
              std::chrono::milliseconds flush_interval = std::chrono::milliseconds(100));
  ~DeliveryLog();  // flushes
  DeliveryLog(const DeliveryLog&) = delete;
  DeliveryLog& operator=(const DeliveryLog&) = delete;

  // True when (system, key) is recorded or queued.
  Result<bool> Seen(const std::string& system, const std::string& key);
  void Queue(DeliveryRow row);
  // Writes queued rows now, durably.
  Status Flush();
  // Rows of one system, newest first (for tests and operators).
  Result<std::vector<DeliveryRow>> List(const std::string& system, size_t limit);

 private:
  void Run();

  vault::LedgerWriter& writer_;
  vault::Database& db_;
  const std::chrono::milliseconds interval_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<DeliveryRow> queue_;          // guarded by mu_
  std::unordered_set<std::string> queued_;  // "system\nkey" of queued and in-flight rows; guarded by mu_
  bool stop_ = false;                       // guarded by mu_
  std::mutex flush_mu_;                     // one flush at a time
  std::thread thread_;
};

}  // namespace consentd::ingest

#endif  // CONSENTD_INGEST_DELIVERY_LOG_H_
