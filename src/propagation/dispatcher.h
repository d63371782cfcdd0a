// Dispatcher: delivers the outbox's rows to the downstream systems through
// their adapters (docs/propagation.md).
//
// Per system ("lane"): `concurrency` worker threads, the system's token
// bucket (in its adapter's transport, see limited_transport.h), an
// in-memory queue of claimed rows (claimed in batches, one transaction per
// batch) and a recorder thread. Lanes share nothing but the outbox, so a
// paused, slow or failing system never holds up the others.
//
// Group commit: a worker hands its finished attempt to the lane's recorder
// and goes on with the next row; the recorder writes every attempt finished
// meanwhile in ONE transaction (Outbox::Record: each row's change, each
// final outcome's "delivery.outcome" entry and the listener's rows). Until
// that transaction is durable the row stays in_flight in the outbox and
// busy in the lane, so the subject's next row is not eligible (order) and
// a crash delivers it again (at least once).
//
// Order: the outbox only offers a subject's oldest open row per system
// (Outbox::Eligible), so a later change waits until the earlier one is
// final; retries keep the row open, so an opt-out is never overtaken by an
// older opt-in.
//
// One attempt: identifiers are read from the vault (CustomerSource) at
// delivery time; the adapter performs one try and classifies it:
//   done / already done  -> done, "delivery.outcome" entry (+ listener)
//   accepted (async job) -> accepted with the reference; Confirm() polled
//                           with backoff until done or the row's age runs out
//   retry                -> pending again after exponential backoff with full
//                           jitter, never before Retry-After (which also
//                           pauses the system's bucket); dead once
//                           max_attempts or max_age is reached
//   reauthenticate       -> Reauthenticate() once and retry at once; else
//                           permanent "auth_failed"
//   permanent            -> dead, with the outcome entry
// A shredded subject (no identifiers any more) fails its rows with
// "subject_shredded". Retries are not ledger entries.
//
// Learned system ids: when an attempt's Outcome carries `system_id` (the
// customer's id in that system, found by a lookup or a create) and the
// vault had none of the system's kind, the IdentifierLearner (when set)
// links it to the subject in the transaction of that row's step, so later
// deliveries skip the lookup. Never in a ledger payload or a log line.
//
// Policy reload: SetTargets() starts lanes for systems it did not have and
// stops the lanes of systems no longer given; their rows stay pending and
// Lanes() reports them unavailable ("not in the policy").
//
// Restart safety: Start() returns in_flight rows to pending (at least once;
// the idempotency key makes a repeat safe). Pauses and replays written by
// another process (consentctl) are noticed within poll_interval_ms.
//
// Thread-safety: thread-safe. AddTarget and SetLearner before Start or
// RunOnce; SetTargets at any time.
#ifndef CONSENTD_PROPAGATION_DISPATCHER_H_
#define CONSENTD_PROPAGATION_DISPATCHER_H_

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "adapters/adapter.h"
#include "policies/system.h"
#include "src/base/clock.h"
#include "src/base/result.h"
#include "src/domain/identifier_kind.h"
#include "src/obs/logger.h"
#include "src/obs/metrics.h"
#include "src/propagation/backoff.h"
#include "src/propagation/outbox.h"
#include "src/propagation/sleeper.h"
#include "src/propagation/token_bucket.h"

namespace consentd::propagation {

struct DispatcherOptions {
  int32_t max_attempts = 12;                        // delivery attempts before dead
  int64_t max_age_ms = 7LL * 24 * 3600 * 1000;      // from the row's creation
  BackoffPolicy backoff{1000, 15 * 60 * 1000};      // after a retryable failure
  BackoffPolicy confirm_backoff{2000, 5 * 60 * 1000};  // between Confirm() polls
  int64_t poll_interval_ms = 500;      // look for rows, pauses and replays of other processes
  int64_t hot_poll_interval_ms = 5;    // after Notify(): rows are about to commit
  int64_t hot_window_ms = 1000;
  // Rows a lane holds claimed (queued, attempted or being recorded); a
  // scan claims up to this many minus those held, in one transaction.
  // 0: 8 * concurrency, at least 64.
  size_t claim_batch = 0;
};

// One system the dispatcher delivers to.
struct DispatchTarget {
  policies::System system;  // copied: id, kind, concurrency, options
  std::shared_ptr<adapters::Adapter> adapter;  // null: unavailable (rows wait)
  std::string unavailable_reason;              // why adapter is null (no secrets)
  std::shared_ptr<TokenBucket> bucket;         // the one its transport uses; may be null
};

// The identifiers of a subject, read from the vault (SubjectRegistry::
// IdentifiersOf). kNotFound for a shredded or unknown subject.
using CustomerSource = std::function<Result<std::vector<domain::NormalizedIdentifier>>(const domain::Sid&)>;

// Links `learned` (a system's own id for the subject, as the adapter
// reported it: not yet validated) to `sid` and commits `entries` and `hook`
// in the same durable transaction. Must still commit them (without the
// link) when the id cannot be linked: malformed, already known, the
// subject shredded. In production identity::SubjectRegistry::
// LinkLearnedAndWrite.
using IdentifierLearner = std::function<Status(const domain::Sid& sid, const domain::Identifier& learned,
                                               std::vector<ledger::NewEntry> entries, ledger::WriteHook hook)>;

// What a lane reports to operators.
struct LaneInfo {
  std::string system;
  bool available = false;
  std::string unavailable_reason;
  size_t in_memory = 0;  // claimed rows queued, being attempted or being recorded
};

class Dispatcher {
 public:
  // All references must outlive the dispatcher. `metrics` and `logger` may
  // be null.
  Dispatcher(Outbox& outbox, CustomerSource customers, PolicyFn policy, DispatcherOptions options, const Clock& clock,
             Sleeper& sleeper, UniformSource uniform, obs::MetricsRegistry* metrics, const obs::Logger* logger);
  ~Dispatcher();  // Stop()
  Dispatcher(const Dispatcher&) = delete;
  Dispatcher& operator=(const Dispatcher&) = delete;

  // REQUIRES: not started; one target per system id.
  void AddTarget(DispatchTarget target);
  // REQUIRES: not started. Without a learner learned ids are dropped.
  void SetLearner(IdentifierLearner learner) { learner_ = std::move(learner); }

  // Policy reload: the lanes become exactly `targets` (by system id).
  // A system new to the dispatcher gets a lane (started when the
  // dispatcher runs); a lane whose system is missing from `targets` is
  // stopped (attempts in progress finish and are recorded; its queued rows
  // go back to pending) and stays listed as unavailable, "not in the
  // policy", while its rows wait. A system kept keeps its lane, adapter
  // and bucket, unless it was unavailable or removed and is now given
  // again: then it runs with the new target. Returns the ids of the lanes
  // started and stopped.
  struct TargetChanges {
    std::vector<std::string> started, stopped;
  };
  TargetChanges SetTargets(std::vector<DispatchTarget> targets);

  // Returns in_flight rows to pending and starts the workers.
  Status Start();
  // Stops the workers: waits for attempts in progress (bounded by the HTTP
  // timeout); rows claimed but not attempted stay in_flight until the next
  // Start. Idempotent. Cancels the sleeper.
  void Stop();
  // Rows may have been enqueued (their transaction commits soon): look for
  // them often for a while.
  void Notify();

  // For tests and tools, without threads: attempts the eligible rows of
  // `system` on the calling thread until none is due; returns the number
  // of attempts. REQUIRES: not started.
  Result<size_t> RunOnce(const std::string& system);

  std::vector<LaneInfo> Lanes() const;

 private:
  struct Lane;
  // What an attempt decided, to be recorded.
  struct Finished {
    RowStep step;
    std::optional<domain::Identifier> learned;  // a system id to link (personal data)
  };
  void StartLane(Lane& lane);
  // Stops the lane's workers and recorder; queued rows go back to pending.
  void StopLane(Lane& lane);
  void Work(Lane& lane);
  void RecordLoop(Lane& lane);
  // Claims due rows into the lane's queue. Called by one worker at a time.
  void Fill(Lane& lane);
  // Puts the queued (not started) rows back to pending.
  void ReleaseQueued(Lane& lane);
  Finished Attempt(Lane& lane, OutboxRow row);
  adapters::Request BuildRequest(const Lane& lane, const OutboxRow& row,
                                 const std::vector<domain::NormalizedIdentifier>& ids) const;
  // Writes `done` (one transaction for all when possible), then counts and
  // logs the final outcomes.
  void Record(Lane& lane, std::vector<Finished>& done);
  void RecordOne(Lane& lane, Finished& f);
  void Recorded(const RowStep& step);
  // Logs a step that could not be written; a final step of an in_flight
  // row is rescheduled (pending) so that it is delivered again.
  void NotRecorded(const RowStep& step, const Status& status);
  void RegisterMetrics(Lane& lane);
  size_t ClaimBatch(const Lane& lane) const;
  // Outbox::Systems(), cached for a second (metrics render often).
  std::vector<SystemStatus> CachedSystems();

  Outbox& outbox_;
  CustomerSource customers_;
  PolicyFn policy_;
  const DispatcherOptions options_;
  const Clock& clock_;
  Sleeper& sleeper_;
  UniformSource uniform_;
  obs::MetricsRegistry* metrics_;
  const obs::Logger* logger_;
  IdentifierLearner learner_;

  // Lanes are never destroyed before the dispatcher (a removed system's
  // lane is stopped and kept), so a Lane& stays valid.
  // Start, Stop and SetTargets one at a time. Never held by Notify (it
  // runs inside commits the recorders may be leading).
  std::mutex control_mu_;
  mutable std::mutex lanes_mu_;  // guards the map only, held briefly
  std::map<std::string, std::unique_ptr<Lane>> lanes_;
  std::vector<Lane*> AllLanes() const;
  std::atomic<bool> started_{false};
  std::atomic<bool> stopping_{false};
  std::atomic<int64_t> hot_until_ms_{0};

  std::mutex cache_mu_;
  int64_t cache_time_ms_ = -1;             // guarded by cache_mu_
  std::vector<SystemStatus> cache_;        // guarded by cache_mu_
};

}  // namespace consentd::propagation

#endif  // CONSENTD_PROPAGATION_DISPATCHER_H_
