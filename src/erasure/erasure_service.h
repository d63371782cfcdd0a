// ErasureService: erasure requests end to end (docs/erasure.md).
//
//   File      records a request ("erasure.received"), resolving its
//             identifiers to a subject (created when unknown, so that the
//             adapters can read them from the vault); a duplicate for a
//             subject with an open request links to it ("erasure.linked").
//             A verified source goes straight on to propagating.
//   Verify    received -> verified -> propagating: the "erasure.propagating"
//             entry and FanOut::Enqueue(kErasure) commit together; one
//             progress row per policy system ("pending").
//   OnDeliveryOutcome (DeliveryListener, inside propagation's transaction)
//             records each system's final outcome; when none is pending
//             the request is queued for completion.
//   ProcessReady (the worker; consentd runs it on a thread) completes
//             requests: "erasure.completed" or "erasure.partially_completed"
//             with the tombstones of every identifier of the subject in ONE
//             transaction; then, for every request of the round at once,
//             SubjectRegistry::ShredMany (vault keys, lookup rows, records;
//             ONE WAL checkpoint), then their "erasure.shredded" entries.
//             Requests still propagating past their deadline end partially
//             completed, the silent systems listed as "deadline_passed".
//             Every step is idempotent, so a crash anywhere resumes.
//   Check     (RecreationGuard) refuses identifier sets that match a
//             tombstone, recording "erasure.recreation_blocked"; when the
//             policy says so (tombstones.resend_erasure_on_recreation) the
//             erasure is re-sent to the system that tried, in the same
//             transaction, at most once per resend_min_interval.
//
// Ledger entries carry request ids, sids, jurisdiction, channel, dates,
// system ids and reason codes: never an identifier, blind index, requester or
// free text (invariant 1).
//
// Thread-safety: thread-safe. Changes of one request are serialized by a
// lock striped by request id, filings of one subject by a lock striped by
// subject; no lock is service-wide, so shredding one subject never waits
// for, nor blocks, work on another (beyond the registry's own write lock
// during the batch's shred). Every transaction re-checks the state it
// expects, so the stripes only avoid wasted work. No lock is held by
// OnDeliveryOutcome (it runs on the ledger's writer).
#ifndef CONSENTD_ERASURE_ERASURE_SERVICE_H_
#define CONSENTD_ERASURE_ERASURE_SERVICE_H_

#include <atomic>
#include <chrono>
#include <functional>
#include <array>
#include <map>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <span>
#include <string>
#include <thread>
#include <vector>

#include "ledger/ledger.h"
#include "ledger/note.h"
#include "policies/policy_set.h"
#include "src/base/clock.h"
#include "src/base/result.h"
#include "src/domain/consent.h"
#include "src/erasure/deadlines.h"
#include "src/erasure/request_state.h"
#include "src/identity/subject_registry.h"
#include "src/service/consent_service.h"
#include "src/service/delivery_listener.h"
#include "src/service/erasure_intake.h"
#include "src/service/fan_out.h"
#include "src/vault/sqlite_database.h"

struct sqlite3;

namespace consentd::erasure {

// One system's part of a request.
struct SystemProgress {
  std::string system;
  // pending | confirmed | already_done | exception | failed | discarded | deadline_passed
  std::string status;
  std::string detail;     // machine code, e.g. "http_404" or "exception:gdpr_art17_3_b"
  std::string reference;  // the system's own reference, when it gave one
  uint64_t outcome_seq = 0;  // the outcome's ledger entry (0 while pending)
  int64_t time_ms = 0;
};

// A re-sent erasure: a system tried to re-create the erased person and was
// told to erase them again (policy tombstones.resend_erasure_on_recreation).
struct Resend {
  std::string system;
  std::string status;  // pending | confirmed | already_done | exception | failed | discarded
  std::string detail;
  uint64_t cause_seq = 0;    // the "erasure.recreation_blocked" entry that caused it
  uint64_t outcome_seq = 0;  // its "delivery.outcome" entry (0 while pending)
  int64_t created_ms = 0;
  int64_t time_ms = 0;
};

struct EntryRef {
  uint64_t seq = 0;
  std::string kind;
};

struct ErasureRequest {
  std::string id;  // "er_" + 16 hex digits
  domain::Sid sid;
  RequestState state = RequestState::kReceived;
  std::string jurisdiction;
  std::string channel;
  std::string requester;
  std::string source_reference;
  int64_t received_at_ms = 0;
  DayNumber due = 0;                       // effective deadline (extended when extended)
  DayNumber first_due = 0;                 // before any extension
  std::optional<DayNumber> acknowledge_by;
  bool extended = false;
  std::string extension_reason;  // code
  std::string reason;            // rejection or cancellation code
  int64_t created_ms = 0;
  int64_t updated_ms = 0;
  int64_t closed_ms = 0;    // entered a terminal state; 0 while open
  int64_t shredded_ms = 0;  // subject crypto-shredded; 0 until then
  std::vector<SystemProgress> systems;
  std::vector<std::string> duplicates;  // requests linked to this one
  std::vector<Resend> resends;          // erasures re-sent to systems that tried to re-create the person
  std::vector<EntryRef> entries;        // ledger entries that record it, by seq

  bool Overdue(int64_t now_ms) const { return IsOpen(state) && now_ms >= EndOfDayMillis(due); }
};

struct ListFilter {
  std::optional<RequestState> state;
  std::optional<DayNumber> due_before;  // due on or before this day
  bool overdue = false;                 // open and past the deadline
  size_t limit = 100;
};

struct ErasureStats {
  std::map<std::string, uint64_t> by_state;
  uint64_t overdue = 0;
  uint64_t tombstones = 0;
  uint64_t blocked = 0;  // recreation attempts blocked by this process
};

// Service knobs. The tombstone rules (re-sending, lifting) are the policy's
// `tombstones` section (policies/tombstone_policy.h), read at each use so
// that a policy reload applies at once.
struct ErasureOptions {
  std::string default_jurisdiction;  // for requests that name none; empty: required
  std::chrono::milliseconds worker_interval{1000};  // deadline sweep cadence
  size_t shred_batch = 64;  // requests shredded together (one transaction, one WAL checkpoint)
};

// What lifting a tombstone needs: a fresh opt-in of a source the policy
// allows (tombstones.lift).
struct LiftEvidence {
  domain::ConsentMethod method = domain::ConsentMethod::kSignupForm;
  int64_t occurred_at_ms = 0;
  std::string evidence_ref;  // the vault record or notice id proving it; not personal; may be
                             // empty only when the policy does not require evidence
};

class ErasureService final : public service::ErasureIntake,
                             public service::DeliveryListener,
                             public service::RecreationGuard {
 public:
  // Creates the tables (one durable transaction) and queues any work a
  // previous process left (requests to complete or shred). All references
  // must outlive the service. `fan_out` may be null (nothing is enqueued;
  // requests then complete only through the deadline sweep).
  static Result<std::unique_ptr<ErasureService>> Open(const std::string& database_path, ledger::Ledger& ledger,
                                                      identity::SubjectRegistry& subjects,
                                                      std::shared_ptr<const policies::PolicySet> policy,
                                                      const Clock& clock, ErasureOptions options = {});
  ~ErasureService() override;

  static Status EnsureSchema(sqlite3* db);

  void SetFanOut(service::FanOut* fan_out) { fan_out_ = fan_out; }
  void SetPolicy(std::shared_ptr<const policies::PolicySet> policy);

  // --- requests -----------------------------------------------------------
  // ErasureIntake. kInvalidArgument naming the field (never a value);
  // kFailedPrecondition when the identifiers are ambiguous (a review).
  Result<service::ErasureIntakeResult> File(const service::ErasureIntakeRequest& request) override;
  Status Verify(const std::string& id);
  Status Reject(const std::string& id, const std::string& reason);
  Status Cancel(const std::string& id, const std::string& reason);
  // Once, with a reason code, before the first deadline has passed.
  Status Extend(const std::string& id, const std::string& reason);

  Result<ErasureRequest> Get(const std::string& id) const;
  // By due date, then id.
  Result<std::vector<ErasureRequest>> List(const ListFilter& filter) const;
  Result<ErasureStats> Stats() const;

  // --- propagation --------------------------------------------------------
  Status OnDeliveryOutcome(sqlite3* db, const service::DeliveryOutcome& outcome) override;

  // Completes and shreds every request that is ready (all outcomes final,
  // or its deadline passed). Returns how many requests changed.
  Result<size_t> ProcessReady();
  // Runs ProcessReady on a thread: when outcomes arrive and every
  // worker_interval. Stop() (or the destructor) joins it.
  void Start();
  void Stop();

  // --- tombstones ---------------------------------------------------------
  // RecreationGuard: kFailedPrecondition when an identifier matches a
  // tombstone; the attempt is recorded ("erasure.recreation_blocked").
  Status Check(std::span<const domain::Identifier> identifiers, const domain::ConsentSource& source) override;
  // The same for identifiers already normalized, as SubjectRegistry's
  // CreationGuard (install it with InstallRegistryGuard): the last line of
  // defence for paths that resolve without ConsentService (webhook links,
  // review approvals). Recorded (when `record`) with method "identity".
  Status CheckNormalized(std::span<const domain::NormalizedIdentifier> identifiers, bool record);
  void InstallRegistryGuard();
  // Removes the tombstones of `identifiers` when the policy's lift rules
  // allow it ("tombstone.lifted"); returns how many were removed (0 when
  // none matched). kFailedPrecondition when lifting is not allowed, the
  // source method is not an allowed source, or the opt-in is not dated at
  // least min_days_after_erasure days (and strictly) after the erasure;
  // kInvalidArgument for missing required evidence, an opt-in dated in the
  // future, or identifiers that do not normalize.
  Result<size_t> LiftTombstones(std::span<const domain::Identifier> identifiers, const LiftEvidence& evidence);

  // The identifiers a re-sent erasure (`sid` is its pseudonym, the sid of
  // its outbox row) delivers with: those of the attempt that hit the
  // tombstone, sealed in the vault under a key of their own until the
  // delivery's final outcome shreds them. kNotFound when `sid` is not a
  // pending re-send. For the dispatcher's CustomerSource only (personal
  // data).
  Result<std::vector<domain::NormalizedIdentifier>> ResendIdentifiers(const domain::Sid& sid) const;

  // --- certificates -------------------------------------------------------
  // The signed certificate (docs/erasure.md) of a completed or partially
  // completed request whose subject was shredded; signs a checkpoint when
  // the latest one does not cover its entries. kFailedPrecondition before.
  Result<std::string> Certificate(const std::string& id, const ledger::Signer& signer);

 private:
  ErasureService(ledger::Ledger& ledger, identity::SubjectRegistry& subjects,
                 std::shared_ptr<const policies::PolicySet> policy, const Clock& clock, ErasureOptions options,
                 std::unique_ptr<vault::Database> db);
  std::shared_ptr<const policies::PolicySet> policy() const;
  struct TombstoneHit {
    size_t position = 0;      // in the identifiers checked
    std::string request;      // the erasure request that wrote the tombstone
    std::string bidx;         // the tombstone's key (bytes)
  };
  std::mutex& RequestLock(const std::string& id);
  std::mutex& SubjectLock(const domain::Sid& sid);
  std::mutex& ReferenceLock(const std::string& channel, const std::string& reference);
  // Under RequestLock(id): one state transition of request `id` with its entry.
  Status Transition(const std::string& id, RequestState to, const std::string& reason);
  // Under RequestLock(id) (or for a request nobody else knows yet):
  // verified -> propagating with the fan-out.
  Status StartPropagation(const std::string& id);
  // Under RequestLock(id): completion of one request. Sets *shred to the
  // subject to shred when the request is terminal and not yet shredded.
  Result<bool> ProcessOne(const std::string& id, std::optional<domain::Sid>* shred);
  // Shreds the subjects of `owed` (request id, subject) in one
  // transaction, checkpoints the WAL once, then records "erasure.shredded"
  // for each in one append. Returns how many requests it recorded.
  Result<size_t> ShredBatch(const std::vector<std::pair<std::string, domain::Sid>>& owed);
  void Wake(const std::string& id);
  // The first tombstone among `ids`.
  Result<std::optional<TombstoneHit>> FindTombstone(std::span<const domain::NormalizedIdentifier> ids);
  // Records a blocked attempt and returns the refusal. With `attempt` (the
  // identifiers the system sent) and a policy system as `system`, re-sends
  // the erasure to that system as the policy allows.
  Status Blocked(const TombstoneHit& hit, size_t position, const std::string& system, const std::string& method,
                 bool record, std::span<const domain::NormalizedIdentifier> attempt);
  void RunWorker();

  ledger::Ledger& ledger_;
  identity::SubjectRegistry& subjects_;
  const Clock& clock_;
  const ErasureOptions options_;
  std::unique_ptr<vault::Database> db_;  // read connection
  service::FanOut* fan_out_ = nullptr;
  mutable std::mutex policy_mu_;
  std::shared_ptr<const policies::PolicySet> policy_;  // guarded by policy_mu_
  static constexpr size_t kStripes = 64;
  std::array<std::mutex, kStripes> request_locks_;    // by request id
  std::array<std::mutex, kStripes> subject_locks_;    // filings, by subject
  std::array<std::mutex, kStripes> reference_locks_;  // filings, by (channel, source reference); taken before subject
  std::mutex resend_mu_;  // re-send decisions (rate limit read, then written)
  std::atomic<bool> checkpoint_owed_{false};  // a re-send's sealed identifiers were deleted; WAL not yet checkpointed

  std::mutex queue_mu_;
  std::condition_variable queue_cv_;
  std::set<std::string> ready_;  // guarded by queue_mu_
  bool kick_ = false;            // guarded by queue_mu_: run a round even with nothing ready
  bool stop_ = false;            // guarded by queue_mu_
  std::thread worker_;
  std::atomic<uint64_t> blocked_{0};
};

}  // namespace consentd::erasure

#endif  // CONSENTD_ERASURE_ERASURE_SERVICE_H_
