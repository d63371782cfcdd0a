// Outbox: the transactional outbox of propagation (docs/propagation.md).
//
// As a service::FanOut it writes, inside the transaction of the ledger entry
// that records a change, one `outbox` row per system that must hear of it:
// a consent change goes to every policy system that receives its purpose
// (never back to the system that reported it), an erasure to every system.
// Rows hold pseudonyms, policy keys, codes and references, never personal
// data.
//
// It is also the one place that changes rows afterwards, for the dispatcher
// (claim, reschedule, finish) and for operators (replay, discard, pause),
// each change in one durable transaction through the LedgerWriter. A final
// outcome (done, dead, discarded) is one "delivery.outcome" ledger entry,
// written with the row's state change and the DeliveryListener's rows in
// the same transaction. Retries are not ledger entries.
//
// Several processes may use one outbox (consentd's dispatcher, consentctl's
// operator commands): every state change is conditional on the state it
// expects, so a row changed by another process is never overwritten.
//
// Thread-safety: thread-safe.
#ifndef CONSENTD_PROPAGATION_OUTBOX_H_
#define CONSENTD_PROPAGATION_OUTBOX_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "policies/policy_set.h"
#include "src/base/clock.h"
#include "src/base/result.h"
#include "src/propagation/outbox_row.h"
#include "src/service/delivery_listener.h"
#include "src/service/fan_out.h"
#include "src/vault/ledger_writer.h"
#include "src/vault/sqlite_database.h"

struct sqlite3;

namespace consentd::propagation {

// Outbox row ids (docs/propagation.md, "Row ids"): cause_seq * 1024 + the
// target system's number, so at most 1023 systems are ever numbered, and a
// cause seq is below 2^43 so that every id is below 2^53, exact as a JSON
// number in any client.
inline constexpr int64_t kMaxOutboxSystems = 1023;
inline constexpr uint64_t kMaxOutboxCauseSeq = (uint64_t{1} << 43) - 1;
// The id of the row for `cause_seq` and the system numbered `system_number`
// (1 .. kMaxOutboxSystems).
int64_t OutboxRowId(uint64_t cause_seq, int64_t system_number);

// The current policy (it may be reloaded).
using PolicyFn = std::function<std::shared_ptr<const policies::PolicySet>()>;

struct ListFilter {
  std::optional<RowState> state;
  std::string system;  // empty: all
  int64_t after_id = 0;  // rows with id > after_id (paging)
  size_t limit = 100;
};

// Per-system figures for operators and metrics.
struct SystemStatus {
  std::string system;
  bool paused = false;
  int64_t paused_ms = 0;     // when it was paused; 0 when not
  int64_t queue_depth = 0;   // pending, in_flight and accepted rows
  int64_t oldest_pending_created_ms = 0;  // 0 when the queue is empty
  int64_t dead = 0;          // dead letters
};

// What one attempt observed, for a row's bookkeeping (never personal data).
struct AttemptNote {
  int32_t http_status = 0;
  std::string code;
  std::string reference;
};

// One change of one row after an attempt, for Outbox::Record: a
// reschedule (`to` pending or accepted: counters, due time and note) or a
// final step (`to` done, dead or discarded, per `result`: the row's
// "delivery.outcome" entry and the listener's rows).
struct RowStep {
  OutboxRow row;   // with the counters (attempts, polls, acked_ms, reference) to store
  RowState from = RowState::kInFlight;  // the state the row must still be in
  RowState to = RowState::kPending;
  service::DeliveryResult result = service::DeliveryResult::kFailed;  // final steps
  int64_t next_attempt_ms = 0;  // reschedules
  AttemptNote note;
  service::DeliveryOutcome outcome;  // final steps: filled by Record once durable
};

// Commits entries and a hook in one durable transaction, like
// vault::LedgerWriter::Write (the default). Lets a caller add rows of its
// own to a step's transaction through another writer (a learned system id
// through the subject registry).
using WriteFn = std::function<Status(std::vector<ledger::NewEntry> entries, ledger::WriteHook hook)>;

class Outbox final : public service::FanOut {
 public:
  // Creates the tables and indexes if missing (inside a write hook).
  static Status EnsureSchema(sqlite3* db);

  // Opens a read connection of its own to `db_path` (whose tables must
  // exist). `writer` and `clock` must outlive the outbox.
  static Result<std::unique_ptr<Outbox>> Open(const std::string& db_path, vault::LedgerWriter& writer, PolicyFn policy,
                                              const Clock& clock);

  // Told of every final outcome inside its transaction (erasure tracking).
  // Set before deliveries start; `listener` must outlive the outbox.
  void SetListener(service::DeliveryListener* listener) { listener_.store(listener); }
  // Called (on the writer thread, before the commit) whenever Enqueue wrote
  // rows, so that a dispatcher can look for them soon. Set before use.
  void SetEnqueueObserver(std::function<void()> observer) { observer_ = std::move(observer); }

  // service::FanOut. A row's id is OutboxRowId(change.seq, the system's
  // number): enqueueing one change twice writes its rows once. Fails
  // (InvalidArgument) for a seq above kMaxOutboxCauseSeq, and
  // (FailedPrecondition) once more than kMaxOutboxSystems systems have been
  // numbered.
  Status Enqueue(sqlite3* db, const service::Change& change) override;
  // One prepared statement, one policy read and one observer call for all;
  // rows are inserted in id order.
  Status EnqueueMany(sqlite3* db, std::span<const service::Change> changes) override;

  // ---- reads ----
  Result<OutboxRow> Get(int64_t id);
  Result<std::vector<OutboxRow>> List(const ListFilter& filter);
  // The rows of `system` a dispatcher may attempt now, oldest first, at most
  // `limit`: pending or accepted, due (next_attempt_ms <= now_ms), not in
  // `busy`, and with no earlier pending, in_flight or accepted row of the
  // same subject and system (per-subject order). Nothing while the system
  // is paused.
  Result<std::vector<OutboxRow>> Eligible(const std::string& system, int64_t now_ms, size_t limit,
                                          const std::set<int64_t>& busy);
  // The earliest next_attempt_ms of the pending and accepted rows of
  // `system`, or nullopt when it has none.
  Result<std::optional<int64_t>> NextDue(const std::string& system);
  Result<SystemStatus> StatusOf(const std::string& system);
  // The systems of the current policy (and any other system that has rows
  // or a pause record), by id.
  Result<std::vector<SystemStatus>> Systems();
  Result<bool> IsPaused(const std::string& system);
  // Echo detection for webhook ingest (src/ingest/echo_filter.h): true when
  // `decision` equals the last consent change delivered (done) to `system`
  // for (sid, purpose) while a newer change for them is still open (pending,
  // in_flight or accepted) for that system: the system is reporting back
  // what consentd told it, and the newer delivery will overwrite it.
  Result<bool> IsEcho(const std::string& system, const domain::Sid& sid, const std::string& purpose,
                      domain::Decision decision);

  // ---- dispatcher transitions (one durable transaction each) ----
  // pending -> in_flight for those of `ids` still pending; returns the ids
  // that were claimed.
  Result<std::vector<int64_t>> Claim(const std::vector<int64_t>& ids);
  // Every in_flight row back to pending (a dispatcher starting after a
  // crash; deliveries are at least once and carry idempotency keys).
  // Returns how many rows were reset.
  Result<int64_t> ResetInFlight();
  // A non-final step: the row (expected in `from`) becomes `to` (pending or
  // accepted) with the given counters, due time and note.
  // kFailedPrecondition when the row is no longer in `from`.
  Status Reschedule(const OutboxRow& row, RowState from, RowState to, int64_t next_attempt_ms,
                                const AttemptNote& note);
  // Writes every step in ONE durable transaction (group commit of a lane's
  // finished attempts): each row's conditional update, and for each final
  // step its "delivery.outcome" entry and the listener's rows. All or
  // nothing: kFailedPrecondition (nothing written) when any row is no
  // longer in its `from` state; the caller may then record the steps one
  // by one. Through `write` when given, else through the LedgerWriter.
  // On success the final steps' `outcome` is filled.
  Status Record(std::vector<RowStep>& steps, const WriteFn& write = nullptr);
  // The final step: the row (expected in `from`) becomes done (kConfirmed,
  // kAlreadyDone), dead (kFailed) or discarded (kDiscarded), with its
  // "delivery.outcome" entry and the listener's rows, in one transaction.
  // Returns the outcome. kFailedPrecondition when the row is no longer in
  // `from` (nothing is written).
  Result<service::DeliveryOutcome> Finish(const OutboxRow& row, RowState from, service::DeliveryResult result,
                                          const AttemptNote& note);

  // ---- operators ----
  // A dead row back to pending with its attempts reset. kNotFound;
  // kFailedPrecondition unless dead, or when a later consent row of the same
  // subject, system and purpose exists (replaying would overtake it).
  Status Replay(int64_t id);
  // Replays every dead row (of `system`, or all when empty) that Replay
  // would accept; returns how many.
  Result<int64_t> ReplayDead(const std::string& system);
  // A dead row becomes discarded with a "discarded" outcome entry.
  // kNotFound; kFailedPrecondition unless dead.
  Result<service::DeliveryOutcome> Discard(int64_t id);
  // Pauses or resumes deliveries to `system` (a policy system id; kNotFound
  // otherwise). Idempotent. Rows keep accumulating while paused.
  Status SetPaused(const std::string& system, bool paused);

 private:
  Outbox(std::unique_ptr<vault::Database> db, vault::LedgerWriter& writer, PolicyFn policy, const Clock& clock)
      : db_(std::move(db)), writer_(writer), policy_(std::move(policy)), clock_(clock) {}

  Result<std::vector<OutboxRow>> Query(const std::string& sql, const std::function<void(vault::Stmt&)>& bind);

  std::unique_ptr<vault::Database> db_;
  vault::LedgerWriter& writer_;
  PolicyFn policy_;
  const Clock& clock_;
  std::atomic<service::DeliveryListener*> listener_{nullptr};
  std::function<void()> observer_;
};

// The "delivery.outcome" payload of `outcome` for a row (docs/ledger-format.md):
// {"outbox_id":N,"system":"..","op":"set_consent"|"erase","result":"..",
//  "cause_seq":N,"sid":"<hex>"[,"purpose":".."][,"request":".."][,"reference":".."],"code":"..","attempts":N}
std::string OutcomePayload(const OutboxRow& row, service::DeliveryResult result, const AttemptNote& note);

}  // namespace consentd::propagation

#endif  // CONSENTD_PROPAGATION_OUTBOX_H_
