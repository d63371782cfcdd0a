// ConsentService: records consent events with their provenance and answers
// consent questions (docs/api.md "Consent").
//
// Recording one event:
//   1. validate it against the policy (purpose, source system, method,
//      jurisdiction, legal basis) and the formats that keep personal data
//      out of the ledger (notice ids, language tags: no free text);
//   2. check tombstones (RecreationGuard; the erasure issue supplies it);
//   3. resolve the identifiers to a subject (SubjectRegistry::
//      ResolveAndWrite) and, under the subject's lock, decide with the
//      conflict rules (policies/conflict.h) against the current state;
//   4. in ONE durable transaction: the identity rows and entries of the
//      resolution when it creates a subject or links identifiers (a merge
//      or review commits first, on its own), the "consent.recorded" ledger
//      entry per purpose (pseudonym, purpose, decision, times, source,
//      outcome, rule, policy version, commitment to the sealed evidence),
//      the sealed evidence in the vault, the consent_events index row, the
//      state projection when the event replaces the state, and the FanOut's
//      outbox rows when the effective decision changed (SetFanOut).
// Re-sending an event (same client event id, or the same fields) is a no-op
// that returns the original entry: imports and retries are idempotent, also
// after the subject was merged into another (the de-duplication key is
// looked up under every sid of the subject's group).
//
// Tables: consent_state (the projection: current state per subject and
// purpose) and consent_events (a subject's consent entries, for history and
// de-duplication). Both can be rebuilt from the ledger (RebuildCheck).
//
// Thread-safety: thread-safe. Events for one subject are serialized; events
// for different subjects are committed together by the ledger's group
// commit.
#ifndef CONSENTD_SERVICE_CONSENT_SERVICE_H_
#define CONSENTD_SERVICE_CONSENT_SERVICE_H_

#include <array>
#include <atomic>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "ledger/ledger.h"
#include "policies/conflict.h"
#include "policies/policy_set.h"
#include "src/base/clock.h"
#include "src/base/result.h"
#include "src/domain/consent.h"
#include "src/domain/identifier_kind.h"
#include "src/domain/sid.h"
#include "src/identity/subject_registry.h"
#include "src/service/fan_out.h"
#include "src/service/query_cache.h"
#include "src/vault/ledger_writer.h"
#include "src/vault/sqlite_database.h"
#include "src/vault/vault.h"

struct sqlite3;

namespace consentd::service {

// Evidence of how consent was captured; sealed in the vault, never in the
// ledger (only a commitment to the sealed bytes is).
struct ConsentEvidence {
  std::string ip;
  std::string user_agent;
  std::string url;
  std::string notice_text_version;
  bool empty() const { return ip.empty() && user_agent.empty() && url.empty() && notice_text_version.empty(); }
};

struct ConsentEvent {
  std::vector<domain::Identifier> identifiers;  // at least one
  std::string purpose;                          // empty only for method gpc (all sale/sharing purposes)
  domain::Decision decision = domain::Decision::kGranted;
  int64_t occurred_at_ms = 0;
  domain::ConsentSource source;
  std::string notice_id;       // [A-Za-z0-9._:-]{1,64}, optional
  std::string notice_version;  // same format, optional
  std::string language;        // BCP 47 tag, optional
  std::string jurisdiction;    // a policy jurisdiction id, optional
  std::string legal_basis;     // optional; defaults to the purpose's
  ConsentEvidence evidence;
  std::string event_id;        // the source's id for this event (de-duplication), optional
};

// What recording one purpose's event did.
struct RecordedConsent {
  std::string purpose;
  uint64_t seq = 0;            // the ledger entry
  policies::ConflictOutcome outcome = policies::ConflictOutcome::kApply;
  std::string reason;
  bool duplicate = false;      // an earlier identical event; nothing new was written
};

struct RecordResult {
  domain::Sid sid;
  std::vector<RecordedConsent> recorded;  // one per purpose (several for GPC)
};

// The answer to "may we use this person's data for this purpose?".
struct ConsentAnswer {
  bool allowed = false;
  bool known_subject = false;
  bool from_default = true;              // no decision recorded: the policy default
  std::optional<domain::ConsentState> state;
};

// The answer for a known subject whose combined state for `purpose` is
// `state` (none recorded: the purpose's default), in `jurisdiction`.
ConsentAnswer AnswerForSubject(const policies::Purpose& purpose, std::optional<domain::ConsentState> state,
                               std::string_view jurisdiction);

// One entry of a subject's consent history, for officers.
struct HistoryItem {
  uint64_t seq = 0;
  std::string entry;                     // the ledger entry bytes
  std::optional<std::string> evidence;   // decrypted evidence JSON, when any
};

// Decides whether an identifier set may create or revive a subject. The
// erasure issue implements it over tombstones; until then nothing is blocked.
class RecreationGuard {
 public:
  virtual ~RecreationGuard() = default;
  // kFailedPrecondition (naming no value) when blocked.
  virtual Status Check(std::span<const domain::Identifier> identifiers, const domain::ConsentSource& source) = 0;
};

class ConsentService {
 public:
  // Creates the tables if missing (inside a write hook).
  static Status EnsureSchema(sqlite3* db);

  // All references must outlive the service. `policy` may be swapped with
  // SetPolicy (reload).
  ConsentService(ledger::Ledger& ledger, vault::LedgerWriter& writer, vault::Database& db,
                 identity::SubjectRegistry& subjects, std::shared_ptr<const policies::PolicySet> policy,
                 const Clock& clock, RecreationGuard* guard = nullptr);

  // Propagation's seam (fan_out.h): when set, every recorded event that
  // changes a subject's effective decision for a purpose (docs/policies.md
  // "Fan-out") calls fan_out->Enqueue inside the transaction of its ledger
  // entry; an Enqueue error fails the event and stores nothing of it.
  // Null (the default): nothing is enqueued. Set before recording starts;
  // `fan_out` must outlive the service.
  void SetFanOut(FanOut* fan_out) { fan_out_ = fan_out; }

  // One purpose of one event, decided and ready to write: built before the
  // transaction (BuildPending), written inside its hook. Internal to the
  // recording paths; public only so that the .cc's row writer can name it.
  struct Pending {
    domain::Sid sid;  // the subject's root
    std::string purpose;
    std::array<uint8_t, 32> dedupe{};
    policies::IncomingConsent incoming;
    policies::ConflictDecision decision;
    bool changed = false;  // the effective decision changes: fan out
    std::optional<vault::SealedRecord> sealed;
    ledger::NewEntry entry;  // "consent.recorded"
  };

  // Records one event (one entry per purpose; GPC expands to the sale and
  // sharing purposes). Durable when OK. kInvalidArgument (message names the
  // field) for a malformed event; kFailedPrecondition when the identifiers
  // are ambiguous (a review was queued) or re-creation is blocked.
  Result<RecordResult> Record(const ConsentEvent& event);

  // Records many events with the results Record() would give one by one, in
  // order, but with few durable transactions: identities are resolved with
  // SubjectRegistry::ResolveBatch (one transaction for a run of events) and
  // the consent entries of the run are appended in ONE ledger Append with
  // one hook (state, index rows, evidence). An event whose identifiers need
  // a merge, a review or a partial link ends the run and is recorded alone
  // by Record's path. result[i] is event i's outcome (its own error when
  // malformed, blocked or ambiguous; the run's error when its commit
  // failed). Durable when OK. For imports; events of one call should share
  // a purpose of use (they are held under the subjects' locks together).
  std::vector<Result<RecordResult>> RecordBatch(std::span<const ConsentEvent> events);

  // RecordBatch in two steps, so that an import can resolve the subjects of
  // its next batch while this batch's consent is written (the two steps use
  // the machine's two cores; docs/import.md). Members are StartBatch's and
  // FinishBatch's own; callers only move it and ask ResolvedWhole().
  struct BatchInProgress {
    std::span<const ConsentEvent> events;
    std::shared_ptr<const policies::PolicySet> policy;
    std::vector<Result<RecordResult>> results;
    std::vector<std::vector<std::string>> purposes;
    std::vector<size_t> valid;  // events that passed the checks
    size_t next = 0;            // valid[next..] are not recorded yet
    // When set: how many of valid[next..] (the run, always the rest of the
    // batch) ResolveBatch resolved, their resolutions in `resolved`.
    std::optional<Result<size_t>> run_k;
    std::vector<identity::Resolution> resolved;

    // True when FinishBatch will resolve no identifier itself: every valid
    // event's subject is resolved (and durable), or the resolution failed.
    // Only then may the caller StartBatch another batch before FinishBatch
    // returns: an event that needs Record's path (a merge, a review) could
    // otherwise change a subject the next batch already resolved.
    bool ResolvedWhole() const;
  };
  // The checks of every event and the resolution of the batch's first run of
  // subjects (durable when the run resolved). The events must outlive the
  // result.
  //
  // `on_planned`, when given, is called once on StartBatch's thread when the
  // subjects of the batch's first run are planned and BEFORE their
  // transaction is written (SubjectRegistry::ResolveBatch's on_planned), so
  // that another thread can PrepareRun the run's consent meanwhile. Not
  // called when nothing was planned.
  struct PlannedRun {
    // Views into the batch: valid while its BatchInProgress lives (moves
    // included: they point into its vectors' storage).
    std::span<const ConsentEvent> events;
    std::span<const size_t> index;                       // the run's events
    std::span<const std::vector<std::string>> purposes;  // of every event of the batch
    std::shared_ptr<const policies::PolicySet> policy;
    std::vector<identity::Resolution> resolved;  // of index[i]; kCreated ones carry created_key
  };
  using RunPlannedFn = std::function<void(PlannedRun run)>;
  BatchInProgress StartBatch(std::span<const ConsentEvent> events, const RunPlannedFn& on_planned = nullptr);
  // The consent of a planned run, decided and encoded ahead of its write:
  // the checks against stored state and earlier events, dedupe keys,
  // sealed evidence, ledger entries. Holds the run's subject locks from
  // PrepareRun until FinishBatch writes or drops it (or until it is
  // destroyed, when it never reaches FinishBatch), so both must happen
  // on one thread, and no Record of those subjects may run on that thread
  // meanwhile. Consent this batch's FinishBatch has not written yet must
  // not be written in between (PrepareRun read the state before it).
  struct PreparedRun;
  std::shared_ptr<PreparedRun> PrepareRun(PlannedRun run);
  // Records what StartBatch resolved and the rest of the batch; returns what
  // RecordBatch(events) returns. RecordBatch(e) is FinishBatch(StartBatch(e)).
  // A StartBatch of later events may run meanwhile on another thread when
  // `batch.ResolvedWhole()`; their consent is recorded after this returns,
  // so each subject's events keep the file's order.
  // `early`: PrepareRun of this batch's first run (null: none). It is
  // written when the resolutions that became durable are the ones it was
  // prepared from, and is otherwise dropped and the run prepared again.
  std::vector<Result<RecordResult>> FinishBatch(BatchInProgress batch, std::shared_ptr<PreparedRun> early = nullptr);

  // The consent state for `purpose` of the subject `identifier` belongs to,
  // through the query cache when one is set (never older than the last
  // acknowledged write: query_cache.h). Unknown subjects get the policy
  // default. kInvalidArgument for an unknown
  // purpose or an identifier that does not normalize. When `subject` is
  // given it receives the subject, if known (for the access log).
  Result<ConsentAnswer> Query(const domain::Identifier& identifier, std::string_view purpose,
                              std::string_view jurisdiction = "", std::optional<domain::Sid>* subject = nullptr);
  // Query() of many identifiers for one purpose, in order (bulk_check.h:
  // lookups in key order, then each subject's state once, in sid order,
  // each phase split across two read connections). out[i] is identifier
  // i's answer or its own error (kInvalidArgument when it does not
  // normalize); subjects[i] its subject when known (for the access log).
  // kInvalidArgument for an unknown purpose. With a query cache, answers
  // come from it where it holds them (two parts) and only the rest from the
  // database, in one batch; each answer reflects the states committed
  // during the call.
  Status QueryMany(std::span<const domain::Identifier> identifiers, std::string_view purpose,
                   std::string_view jurisdiction, std::vector<Result<ConsentAnswer>>* out,
                   std::vector<std::optional<domain::Sid>>* subjects);
  // The same for a subject already resolved.
  Result<ConsentAnswer> QuerySubject(const domain::Sid& root, std::string_view purpose,
                                     std::string_view jurisdiction = "");

  // The consent history of the subject `sid` resolves to (and subjects
  // merged into it), oldest first, with decrypted evidence.
  Result<std::vector<HistoryItem>> History(const domain::Sid& sid);

  // Calls fn(root) for every subject whose effective decision for `purpose`
  // is a recorded withdrawal, in sid order, reading in pages so that
  // writers are not held up. Stops at fn's first non-OK status.
  Status ForEachWithdrawn(std::string_view purpose, const std::function<Status(const domain::Sid&)>& fn);

  // Sets the page cache of the connection that writes (the ledger's, which
  // every hook uses) to `kib` KiB, for the rest of the process. Imports use
  // a large one: their runs rewrite pages of tables keyed by random ids.
  Status SetWriteCacheKib(int64_t kib);

  // Query() answers through `cache` from now on (null: reads only the
  // database). The cache must outlive this service or be unset first.
  void SetQueryCache(QueryCache* cache) { query_cache_.store(cache); }
  // Fills the query cache with every subject's lookup under the current
  // blind-index key and every state row of subjects without merged
  // subjects, reading in one read transaction per table. For the GET path
  // to be fast right after start. Stops early (OK) when the cache is unset,
  // or not usable (a write of another process was just seen), or when
  // `stop` (optional, asked every few thousand rows) returns true; entries
  // whose rows changed while it read are refused by the cache's versions.
  Status WarmQueryCache(const std::function<bool()>& stop = nullptr);

  std::shared_ptr<const policies::PolicySet> policy() const;
  void SetPolicy(std::shared_ptr<const policies::PolicySet> policy);
  // The guard given at construction (may be null), for other paths that
  // bring identifiers from a named source (webhook links), so that a
  // blocked attempt is recorded with its source like a consent's.
  RecreationGuard* recreation_guard() const { return guard_; }

  // Validates the caller-supplied text fields of an event (formats only).
  static Status ValidateEventFormat(const ConsentEvent& event);
  // Everything Record checks before resolving the identifiers: formats,
  // occurred_at against the clock, the policy (purpose, system,
  // jurisdiction, legal basis, GPC) and the recreation guard.
  // kInvalidArgument messages start with the field's JSON pointer. The bulk
  // route checks every event with it before recording any.
  Status Validate(const ConsentEvent& event);

 private:
  // Decides one purpose of an event against `current` (the subject's
  // effective state before it), seals its evidence (under `key` when given:
  // a subject created in the same transaction) and builds its entry.
  // kInvalidArgument when the policy rejects it.
  Result<Pending> BuildPending(const domain::Sid& root, const ConsentEvent& event, std::string_view purpose,
                               const std::optional<domain::ConsentState>& current,
                               const policies::PolicySet& policy, const vault::DataKey* key = nullptr) const;
  // The stored event this one repeats, looked up under every sid of the
  // subject's group (a replay after a merge is still recognised).
  Result<std::optional<RecordedConsent>> FindDuplicate(std::span<const domain::Sid> group, const ConsentEvent& event,
                                                       std::string_view purpose);
  // `root` and the sids merged into it.
  Result<std::vector<domain::Sid>> GroupOf(const domain::Sid& root);
  Result<std::optional<domain::ConsentState>> CurrentState(const domain::Sid& root, std::string_view purpose);
  // Query() through the query cache.
  Result<ConsentAnswer> QueryCached(QueryCache& cache, const domain::Identifier& identifier,
                                    const policies::Purpose& p, std::string_view purpose,
                                    std::string_view jurisdiction, std::optional<domain::Sid>* subject);
  // The answer from the query cache alone, for the identifier whose only
  // probe is `probe`; nullopt when the cache does not hold both halves.
  std::optional<ConsentAnswer> AnswerFromCache(QueryCache& cache, const identity::BlindIndex& probe,
                                               const policies::Purpose& p, std::string_view purpose,
                                               std::string_view jurisdiction, std::optional<domain::Sid>* subject);
  // Whether subjects were merged into `root`.
  Result<bool> HasMerged(const domain::Sid& root);
  // Checks an event against the format rules and the policy, and the
  // recreation guard; fills the purposes it records (GPC expands).
  Status Prepare(const ConsentEvent& event, const policies::PolicySet& policy, std::vector<std::string>* purposes);
  // Record() after Prepare: resolves and records under the subject's lock.
  Result<RecordResult> RecordPrepared(const ConsentEvent& event, const std::vector<std::string>& purposes,
                                      const policies::PolicySet& policy);
  // Resolves batch->valid[next..] as one run (SubjectRegistry::ResolveBatch).
  void ResolveRun(BatchInProgress* batch, const RunPlannedFn& on_planned = nullptr);
  // RecordBatch for a run of prepared events whose subjects were resolved:
  // BuildRun, then WriteRun.
  void RecordRun(std::span<const ConsentEvent> events, std::span<const size_t> index,
                 std::span<const std::vector<std::string>> purposes,
                 std::span<const identity::Resolution> resolved, const policies::PolicySet& policy,
                 std::vector<Result<RecordResult>>* results);
  // Decides and encodes the consent of a run of resolved events into *run
  // (taking their subjects' locks); reads stored state, writes nothing.
  // Subjects created by resolutions not durable yet need created_key.
  void BuildRun(std::span<const ConsentEvent> events, std::span<const size_t> index,
                std::span<const std::vector<std::string>> purposes, std::span<const identity::Resolution> resolved,
                const policies::PolicySet& policy, PreparedRun* run);
  // Writes a prepared run in one durable transaction and fills the results
  // of its events; releases its locks.
  void WriteRun(PreparedRun& run, std::vector<Result<RecordResult>>* results);
  // The state row of `root` itself and the best row of the subjects merged
  // into it, for `purpose`.
  Status StateParts(const domain::Sid& root, std::string_view purpose, std::optional<domain::ConsentState>* own,
                    std::optional<domain::ConsentState>* merged);
  std::mutex& LockFor(const domain::Sid& sid);

  ledger::Ledger& ledger_;
  vault::LedgerWriter& writer_;
  vault::Database& db_;
  identity::SubjectRegistry& subjects_;
  const Clock& clock_;
  RecreationGuard* guard_;
  std::atomic<QueryCache*> query_cache_{nullptr};
  FanOut* fan_out_ = nullptr;
  mutable std::mutex policy_mu_;
  std::shared_ptr<const policies::PolicySet> policy_;  // guarded by policy_mu_
  std::array<std::mutex, 256> subject_locks_;
};

}  // namespace consentd::service

#endif  // CONSENTD_SERVICE_CONSENT_SERVICE_H_
