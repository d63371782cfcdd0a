// SubjectRegistry: resolves identifiers to subjects (random sids) through
// blind indexes, links new identifiers, merges or queues merges, and
// crypto-shreds subjects. Every change is one LedgerWriter transaction whose
// ledger entries name only sids and identifier kinds:
//
//   subject.created        {"sid"[,"kinds":[...]]}        kinds linked at creation
//   subjects.created       {"subjects":[{"sid","kinds"},...]}  ResolveBatch's new
//                          subjects, up to 256 (16 KiB) to an entry
//   subject.linked         {"sid","kind"}                 one per later identifier
//   subject.merged         {"sid","merged_sid","reason","rule"}
//   subject.merge_queued   {"review","sids":[a,b],"reason","rule"}
//   subject.review_rejected {"review"}
//   subject.shredded       {"sid","root"}                 one per sid
//
// Never an identifier value or a blind index (invariant 1); errors name kinds
// and sids only (invariant 6).
//
// Resolution rules ("resolver/v1", see docs/identity.md):
//   - Matches through strong kinds (IdentityRules::strong_kinds) identify a
//     subject; matches through weak kinds only suggest one.
//   - No match: a new subject holds all the identifiers.
//   - One strongly matched subject: unmatched identifiers are linked to it.
//   - Several strongly matched subjects: merged into the oldest when
//     rules.auto_merge and their system ids do not conflict; otherwise a
//     review is queued for each pair and nothing is linked.
//   - A weakly matched subject other than the result: a review, never a
//     link or merge. Only weak matches and unmatched identifiers: a new
//     subject for the unmatched ones, and a review.
//   - A system id whose system and qualifier the subject already has with a
//     different id (rules.one_system_id_per_qualifier): not linked; it goes
//     to a new subject and a "conflicting_system_id" review is queued.
//   - rules.suggest_plus_tag_merges: an email whose +tag-less form belongs to
//     another subject queues an "email_plus_tag" review.
// Merging never rewrites history: the merged sid keeps its key, records and
// ledger entries; identity_aliases maps it to the survivor.
//
// Thread-safety: thread-safe. Lookups run concurrently with one writer;
// changes are serialized in-process and re-validated inside the transaction
// (a concurrent change elsewhere makes Resolve retry).
#ifndef CONSENTD_IDENTITY_SUBJECT_REGISTRY_H_
#define CONSENTD_IDENTITY_SUBJECT_REGISTRY_H_

#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "src/base/clock.h"
#include "src/base/result.h"
#include "src/domain/identifier_kind.h"
#include "src/domain/identity_rules.h"
#include "src/domain/sid.h"
#include "src/identity/blind_index.h"
#include "src/identity/schema.h"
#include "src/vault/key_directory.h"
#include "src/vault/ledger_writer.h"
#include "src/vault/sqlite_database.h"
#include "src/vault/vault.h"

namespace consentd::identity {

struct SubjectRegistryOptions {
  std::string database_path;               // <data-dir>/consentd.db, the ledger's file
  vault::LedgerWriter* writer = nullptr;   // required; writes to database_path
  vault::KeyRing kek;                      // required
  vault::KeyRing blind_index_keys;         // required
  domain::IdentityRules rules;
  const Clock* clock = nullptr;            // default: the system clock
  domain::SidGenerator sid_generator;      // default: Sid::TimeOrdered at clock's time
};

struct ResolveOptions {
  // When nothing matches: create a subject (true) or report kNotFound.
  bool create_if_missing = true;
};

struct Resolution {
  enum class Outcome {
    kNotFound,   // nothing matched and create_if_missing was false
    kCreated,    // a new subject holds the identifiers
    kExisting,   // one subject matched
    kMerged,     // several subjects matched and were merged into `sid`
    kAmbiguous,  // several subjects matched; reviews were queued
  };
  Outcome outcome = Outcome::kNotFound;
  domain::Sid sid;                        // the subject; zero for kNotFound/kAmbiguous
  std::vector<domain::Sid> matched;       // subjects the set matched (roots)
  std::vector<std::string> linked_kinds;  // kinds newly linked to `sid`
  std::vector<std::string> review_ids;    // reviews queued by this call
  // kCreated, for ResolveAndWrite's continuation only: the new subject's
  // data key, to seal records in the transaction that creates it (its key
  // row is not readable before that commits). Never stored or logged.
  std::optional<vault::DataKey> created_key;
};

// What a caller of ResolveAndWrite adds to the resolution's transaction.
struct ResolveExtra {
  std::vector<ledger::NewEntry> entries;  // appended after the resolution's own entries
  // Runs after the resolution's rows are written, with the seqs of
  // `entries` only. May be null when `entries` is empty.
  ledger::WriteHook hook;
  // Kept until the transaction is durable or failed (e.g. the caller's
  // per-subject lock), then released.
  std::shared_ptr<void> hold;
};
// Called by ResolveAndWrite with the resolution it is about to write.
// Must not call the registry's writing methods. May be called more than
// once (a concurrent change makes ResolveAndWrite plan again); each call
// replaces the previous one's extra.
using ResolveContinuation = std::function<Result<ResolveExtra>(const Resolution&)>;

// Consulted before an identifier set is resolved (Resolve, ResolveAndWrite,
// ResolveBatch), so that no path links, creates or merges an identifier the
// erasure service tombstoned. A non-OK status refuses the set and nothing is
// written. `record` is false when ResolveBatch only checks (the caller then
// resolves the set alone, which checks again with true). Must not call the
// registry's writing methods.
using CreationGuard = std::function<Status(std::span<const domain::NormalizedIdentifier>, bool record)>;

struct SubjectInfo {
  domain::Sid sid;
  SubjectState state = SubjectState::kActive;
  domain::Sid resolves_to;  // itself, or the survivor of a merge
  int64_t created_millis = 0;
};

struct Review {
  std::string id;
  domain::Sid a, b;
  std::string reason;
  int64_t created_millis = 0;
};

struct ShredReport {
  domain::Sid root;                  // the subject asked for, after aliases
  std::vector<domain::Sid> shredded; // root and every sid merged into it
};

class SubjectRegistry {
 public:
  // Creates the tables if missing (one durable transaction through
  // options.writer) and opens a read connection to options.database_path.
  // kInvalidArgument for missing options.
  static Result<std::unique_ptr<SubjectRegistry>> Open(SubjectRegistryOptions options);

  // Convenience: loads (creating when missing) kek.key and blind-index.key
  // from `keys` and opens.
  static Result<std::unique_ptr<SubjectRegistry>> Open(const std::string& database_path,
                                                       vault::LedgerWriter& writer,
                                                       const vault::KeyDirectory& keys,
                                                       const domain::IdentityRules& rules,
                                                       const Clock* clock = nullptr);

  SubjectRegistry(const SubjectRegistry&) = delete;
  SubjectRegistry& operator=(const SubjectRegistry&) = delete;
  ~SubjectRegistry();

  // The subject an identifier belongs to, or nullopt. Read-only; never
  // writes. kInvalidArgument when the identifier does not normalize.
  Result<std::optional<domain::Sid>> Lookup(const domain::Identifier& identifier) const;
  Result<std::optional<domain::Sid>> LookupNormalized(const domain::NormalizedIdentifier& identifier) const;
  // The blind indexes Lookup() probes for `identifier`, in probe order
  // (the current key first), and Lookup() by them: for callers that cache
  // lookups by blind index (service/query_cache.h). kInvalidArgument when
  // the identifier does not normalize.
  Result<std::vector<BlindIndex>> ProbesOf(const domain::Identifier& identifier) const;
  Result<std::optional<domain::Sid>> LookupProbes(std::span<const BlindIndex> probes) const;
  // Calls fn(bidx, root) for every identifier row, in one read transaction
  // (for warming a lookup cache), until fn returns false. kFailedPrecondition when the blind-index
  // ring has more than one key (a rotation in progress: lookups probe
  // several indexes, and a row's index alone does not answer them).
  Status ScanRoots(const std::function<bool(const BlindIndex&, const domain::Sid&)>& fn) const;
  // Lookup() of many identifiers: out[i] is identifier i's subject (or its
  // normalization or read error). Blind indexes are computed first, then
  // probed in key order. With parts == 2 (and enough identifiers) each step
  // is cut in two that run at the same time (RunParts): the blind indexes
  // of each half of the identifiers, then the probes of each half of the
  // key range, on two read connections in a read transaction each (so a
  // lookup may see a write that the other half's did not). For bulk checks.
  void LookupMany(std::span<const domain::Identifier> identifiers,
                  std::vector<Result<std::optional<domain::Sid>>>* out, size_t parts = 1) const;

  // Resolves a set of identifiers (see the rules above), writing links,
  // merges and reviews with their ledger entries. Durable when OK.
  // kInvalidArgument (naming the kind and position) if any identifier does
  // not normalize: then nothing is written.
  Result<Resolution> Resolve(std::span<const domain::Identifier> identifiers,
                             const ResolveOptions& options = ResolveOptions());

  // Resolve(), and the caller's own entries and rows in the SAME durable
  // transaction when the resolution is simple (kCreated or kExisting, with
  // or without new links: no merge, no review): `then` is called with the
  // planned resolution before anything is written, and its extra joins the
  // resolution's ledger Append. Otherwise (merges, reviews) the resolution
  // is written first, as Resolve does, and then `then`'s extra in a second
  // transaction; for kAmbiguous and kNotFound `then` is not called. An
  // error from `then` is returned and, in the simple case, nothing is
  // written. Unlike Resolve, the registry's write lock is not held while
  // the transaction commits (what was read is re-validated inside it), so
  // concurrent callers share group commits.
  Result<Resolution> ResolveAndWrite(std::span<const domain::Identifier> identifiers, const ResolveContinuation& then);

  // Propagation's learned system ids: links `learned` (a downstream
  // system's own id for subject `sid`, as an adapter reported it) to the
  // subject, with its "subject.linked" entry, and commits `entries` and
  // `hook` (the delivery's outbox step) in the SAME durable transaction;
  // `hook` sees the seqs of `entries` only. The link is left out, and
  // `entries` and `hook` still committed, when it cannot be made plainly:
  // `learned` does not normalize, is already known (to this subject or
  // another), is refused by the creation guard, the subject is shredded or
  // unknown, or linking would merge, queue a review or conflict with a
  // system id of the same system the subject has. Never merges. Returns the
  // status of the write.
  Status LinkLearnedAndWrite(const domain::Sid& sid, const domain::Identifier& learned,
                             std::vector<ledger::NewEntry> entries, ledger::WriteHook hook);

  // Resolves identifier sets in order, for imports: the creations and links
  // of all of them commit in ONE durable transaction (one ledger append),
  // with the same resolutions, entries and rows as Resolve() called set by
  // set. Handles only the sets that need no merge, review or partial link:
  // every identifier matches one and the same subject (kExisting; nothing is
  // written), or none matches anything, in the tables or earlier in the
  // batch (kCreated: a new subject holds them all). Stops before the first
  // set that needs more (or does not normalize) and returns how many leading
  // sets were resolved, their resolutions appended to *out in order; the
  // caller resolves the next set with Resolve() and continues after it.
  // Durable when OK; on error nothing of the call is stored.
  //
  // `on_planned`, when given, is called once on this thread with the
  // resolutions of the leading sets as first planned, BEFORE their
  // transaction is written (each kCreated one carries created_key), so that
  // a caller can prepare what it will write after them meanwhile. They are
  // what *out receives unless that write fails: an error, or a concurrent
  // change that makes the call plan again (compare *out with them). Not
  // called when nothing could be planned (the first set does not normalize
  // or is refused, or the planning read failed).
  using PlannedFn = std::function<void(std::vector<Resolution> planned)>;
  Result<size_t> ResolveBatch(std::span<const std::span<const domain::Identifier>> sets,
                              std::vector<Resolution>* out, const PlannedFn& on_planned = nullptr);

  // State of `sid` and the sid it resolves to. kNotFound if unknown.
  Result<SubjectInfo> Subject(const domain::Sid& sid) const;

  // The identifiers of the subject `sid` resolves to (including those of
  // subjects merged into it), decrypted. kNotFound for unknown or shredded
  // subjects. Contains personal data: for adapters calling downstream
  // systems only.
  Result<std::vector<domain::NormalizedIdentifier>> IdentifiersOf(const domain::Sid& sid) const;

  // Open reviews, oldest first.
  Result<std::vector<Review>> OpenReviews() const;
  // Merges the two subjects of an open review (the older survives) and
  // closes it. Returns the survivor. kNotFound for an unknown or closed
  // review; kFailedPrecondition when a subject is no longer active.
  Result<domain::Sid> ApproveReview(std::string_view review_id);
  // Closes an open review without merging.
  Status RejectReview(std::string_view review_id);

  // Crypto-shreds the subject `sid` resolves to and every subject merged
  // into it: deletes their wrapped data keys, vault records and identifier
  // rows (lookup rows and sealed values) with secure_delete on, records
  // "subject.shredded" entries, then checkpoints and truncates the WAL so no
  // file keeps the old pages. kNotFound for unknown sids;
  // kFailedPrecondition when already shredded. If the final checkpoint
  // fails, the shred itself is durable and kUnavailable is returned:
  // call CheckpointWal() again.
  Result<ShredReport> Shred(const domain::Sid& sid);
  // Shreds several subjects in one transaction and one checkpoint.
  // Unknown or already shredded sids are skipped.
  Result<std::vector<ShredReport>> ShredMany(std::span<const domain::Sid> sids);

  Status CheckpointWal() { return db_->CheckpointTruncate(); }

  // Installs the creation guard (see CreationGuard). Set before use.
  void SetCreationGuard(CreationGuard guard) { guard_ = std::move(guard); }

  const vault::Vault& vault() const { return *vault_; }
  vault::Database& database() { return *db_; }
  const BlindIndexer& indexer() const { return indexer_; }
  const domain::IdentityRules& rules() const { return rules_; }

 private:
  struct Plan;
  SubjectRegistry(SubjectRegistryOptions options, std::unique_ptr<vault::Database> db);

  Result<std::optional<domain::Sid>> LookupRoot(const domain::NormalizedIdentifier& id,
                                                std::vector<BlindIndex>* probed) const;
  // The root_sid of the identifier row `bidx`, or nullopt. REQUIRES: the
  // calling thread holds a connection from db_->Lock().
  Result<std::optional<domain::Sid>> RootOfLocked(const BlindIndex& bidx) const;
  // LookupRoot of an identifier's blind indexes (indexer_.All), on the
  // connection the calling thread holds from db_->Lock().
  Result<std::optional<domain::Sid>> LookupRootLocked(std::span<const KeyedBlindIndex> candidates,
                                                      std::vector<BlindIndex>* probed) const;
  // The roots of the subjects holding an email with the +tag-less base of
  // `email` (an email identifier): rows indexed by the base (tagged
  // addresses) and the row of the base address itself. May repeat a root.
  // REQUIRES: the calling thread holds a connection from db_->Lock().
  Result<std::vector<domain::Sid>> PlusTagRootsLocked(const domain::NormalizedIdentifier& email) const;
  Result<Resolution> ResolveOnce(const std::vector<domain::NormalizedIdentifier>& ids,
                                 const ResolveOptions& options);
  // ResolveOnce up to the write: fills *plan and returns the resolution.
  Result<Resolution> PlanResolution(const std::vector<domain::NormalizedIdentifier>& ids,
                                    const ResolveOptions& options, Plan* plan, int64_t now);
  Result<std::vector<domain::NormalizedIdentifier>> NormalizeSet(std::span<const domain::Identifier> identifiers) const;
  // `on_planned` as ResolveBatch's (may be null).
  Result<size_t> ResolveBatchOnce(const std::vector<std::vector<domain::NormalizedIdentifier>>& sets,
                                  std::vector<Resolution>* out, const PlannedFn& on_planned);
  // Writes a plan's rows inside a hook, re-validating what was read.
  static Status WritePlan(sqlite3* db, const Plan& plan, int64_t now);
  Result<std::vector<domain::Sid>> GroupOf(const domain::Sid& root) const;

  const domain::IdentityRules rules_;
  vault::LedgerWriter& writer_;
  const Clock& clock_;
  const domain::SidGenerator sid_generator_;
  const BlindIndexer indexer_;
  std::unique_ptr<vault::Database> db_;
  std::unique_ptr<vault::Vault> vault_;
  CreationGuard guard_;
  std::mutex write_mutex_;  // serializes Resolve, reviews and Shred in-process
};

}  // namespace consentd::identity

#endif  // CONSENTD_IDENTITY_SUBJECT_REGISTRY_H_
