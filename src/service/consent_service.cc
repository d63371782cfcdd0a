#include "src/service/consent_service.h"

#include <cctype>
#include <cstring>
#include <map>
#include <set>
#include <unordered_map>
#include <nlohmann/json.hpp>

#include "src/base/bytes.h"
#include "src/base/run_parts.h"
#include "src/base/sha256.h"
#include "src/base/time_format.h"
#include "src/identity/normalizer.h"
#include "src/service/bulk_check.h"
#include "src/service/consent_payload.h"
#include "src/service/state_order.h"
#include "src/service/state_row.h"
#include "src/vault/vault.h"

namespace consentd::service {
namespace {

using domain::ConsentState;
using domain::Decision;
using nlohmann::json;

constexpr int64_t kMaxFutureSkewMs = 5 * 60 * 1000;  // sources' clocks may run a little ahead
constexpr int64_t kEarliestMs = 631152000000;        // 1990-01-01: older is a unit mistake
constexpr size_t kMaxIdentifiers = 16;

constexpr const char* kSchema = R"sql(
CREATE TABLE IF NOT EXISTS consent_state(
  sid           BLOB NOT NULL,
  purpose       TEXT NOT NULL,
  decision      INTEGER NOT NULL,     -- 1 granted, 0 withdrawn
  occurred_ms   INTEGER NOT NULL,
  source_system TEXT NOT NULL,
  source_rank   INTEGER NOT NULL,
  method        TEXT NOT NULL,
  seq           INTEGER NOT NULL,     -- the ledger entry that set it
  PRIMARY KEY (sid, purpose)
) WITHOUT ROWID;
-- One index serves both readers: FindDuplicate (sid, dedupe) and History
-- (sid, then ORDER BY seq over one subject's few rows). The dedupe key
-- hashes the sid, so it is unique within a subject exactly when it is unique
-- overall. Sids are time-ordered: an import's rows land at this index's end,
-- where a UNIQUE index on the random dedupe key alone took a random insert
-- per event and a second index (sid, seq) another insert (docs/benchmarks.md,
-- "Import (eighth session)"). Older files are migrated by
-- MigrateConsentEvents (below).
CREATE TABLE IF NOT EXISTS consent_events(
  seq             INTEGER PRIMARY KEY, -- the ledger entry
  sid             BLOB NOT NULL,
  purpose         TEXT NOT NULL,
  outcome         TEXT NOT NULL,
  reason          TEXT NOT NULL,
  dedupe          BLOB NOT NULL,       -- DedupeKey: SHA-256 over the sid and the event's identity
  evidence_record INTEGER              -- vault_records.id, when evidence was given
);
CREATE UNIQUE INDEX IF NOT EXISTS consent_events_by_subject ON consent_events(sid, dedupe);
)sql";

// Files written before hold consent_events with `dedupe ... UNIQUE` (an
// automatic index on the dedupe key alone) and consent_events_by_sid
// (sid, seq). Copies the rows into the layout above in one statement list
// run inside the caller's transaction; the old table and its indexes are
// dropped (their pages are overwritten: secure_delete is on). A no-op when
// the table is missing or already migrated.
Status MigrateConsentEvents(sqlite3* db) {
  Result<int64_t> old = vault::ScalarInt(
      db, "SELECT count(*) FROM sqlite_schema WHERE type = 'index' AND tbl_name = 'consent_events'"
          " AND name IN ('sqlite_autoindex_consent_events_1', 'consent_events_by_sid')");
  if (!old.ok()) return old.status();
  if (*old == 0) return Status::Ok();
  return vault::RebuildTable(db, "consent_events", kSchema,
                             "seq, sid, purpose, outcome, reason, dedupe, evidence_record", "seq");
}

bool IsToken(std::string_view s, size_t max) {
  if (s.empty() || s.size() > max) return false;
  for (char c : s) {
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '_' ||
          c == ':' || c == '-')) {
      return false;
    }
  }
  return true;
}

// BCP 47 shape: 2-8 letters, then up to 6 subtags of 1-8 alphanumerics.
bool IsLanguageTag(std::string_view s) {
  if (s.empty() || s.size() > 35) return false;
  size_t i = 0, n = 0;
  while (i < s.size() && ((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z'))) ++i, ++n;
  if (n < 2 || n > 8) return false;
  int subtags = 0;
  while (i < s.size()) {
    if (s[i] != '-' || ++subtags > 6) return false;
    ++i;
    size_t len = 0;
    while (i < s.size() && std::isalnum(static_cast<unsigned char>(s[i]))) ++i, ++len;
    if (len < 1 || len > 8) return false;
  }
  return true;
}

bool IsPrintable(std::string_view s) {
  for (unsigned char c : s) {
    if (c < 0x20 || c == 0x7f) return false;
  }
  return true;
}

// Dedupe keys are SHA-256 digests and sids random: their first 8 bytes
// hash them (RecordRun's per-batch maps).
struct DedupeKeyHash {
  size_t operator()(const std::array<uint8_t, 32>& k) const {
    uint64_t h;
    std::memcpy(&h, k.data(), sizeof(h));
    return static_cast<size_t>(h);
  }
};
struct SidPurposeHash {
  size_t operator()(const std::pair<domain::Sid, std::string>& k) const {
    return static_cast<size_t>(k.first.HashBits()) ^ std::hash<std::string>()(k.second);
  }
};

std::array<uint8_t, 32> DedupeKey(const domain::Sid& sid, const ConsentEvent& e, std::string_view purpose) {
  Sha256 h;
  h.Update("consent-dedupe/v1\n");
  h.Update(sid.bytes());
  std::string fields;
  if (!e.event_id.empty()) {
    // The source's own event id identifies the event (per system and purpose).
    fields = "id\n" + e.source.system + "\n" + e.event_id + "\n" + std::string(purpose);
  } else {
    fields = "fields\n" + std::string(purpose) + "\n" + std::string(domain::DecisionName(e.decision)) + "\n" +
             std::to_string(e.occurred_at_ms) + "\n" + e.source.system + "\n" +
             std::string(domain::ConsentMethodName(e.source.method)) + "\n" + e.notice_id + "\n" + e.notice_version;
  }
  h.Update(fields);
  return h.Finish();
}

// The sealed evidence of an event, or nullopt when it carries none.
// `key`: the subject's data key when its key row is not committed yet.
Result<std::optional<vault::SealedRecord>> SealEvidence(const vault::Vault& vault, const domain::Sid& sid,
                                                        const ConsentEvidence& evidence, const vault::DataKey* key) {
  if (evidence.empty()) return std::optional<vault::SealedRecord>();
  json ev = json::object();
  if (!evidence.ip.empty()) ev["ip"] = evidence.ip;
  if (!evidence.user_agent.empty()) ev["user_agent"] = evidence.user_agent;
  if (!evidence.url.empty()) ev["url"] = evidence.url;
  if (!evidence.notice_text_version.empty()) ev["notice_text_version"] = evidence.notice_text_version;
  const std::string text = ev.dump(-1, ' ', false, json::error_handler_t::replace);
  Result<vault::SealedRecord> sr = key != nullptr ? vault::Vault::SealRecordWith(*key, sid, "consent.evidence", text)
                                                  : vault.SealRecord(sid, "consent.evidence", text);
  if (!sr.ok()) return sr.status();
  return std::optional<vault::SealedRecord>(std::move(*sr));
}

// A stored event's outcome from its consent_events row.
RecordedConsent StoredDuplicate(std::string_view purpose, uint64_t seq, const std::string& outcome,
                                std::string reason) {
  RecordedConsent d;
  d.purpose = std::string(purpose);
  d.seq = seq;
  d.reason = std::move(reason);
  for (auto o : {policies::ConflictOutcome::kApply, policies::ConflictOutcome::kStale,
                 policies::ConflictOutcome::kNoChange, policies::ConflictOutcome::kNotAuthorized}) {
    if (policies::ConflictOutcomeName(o) == outcome) d.outcome = o;
  }
  d.duplicate = true;
  return d;
}

// Writes pending events' rows inside a ledger hook: the consent_events
// index row, the sealed evidence, the state projection when the event
// replaces the state, and the fan-out of an effective change (queued by
// Write, enqueued together by Finish, which the hook must call last).
// Statements are prepared once per hook.
class RowWriter {
 public:
  RowWriter(sqlite3* db, FanOut* fan_out, int64_t now) : db_(db), fan_out_(fan_out), now_(now) {}

  Status Write(const ConsentService::Pending& p, uint64_t seq) {
    if (!ev_) {
      Result<vault::Stmt> ev = vault::Stmt::Prepare(
          db_,
          "INSERT INTO consent_events(seq, sid, purpose, outcome, reason, dedupe, evidence_record)"
          " VALUES (?, ?, ?, ?, ?, ?, ?)");
      if (!ev.ok()) return ev.status();
      ev_.emplace(std::move(*ev));
    }
    if (p.sealed) {
      Result<int64_t> id = vault::Vault::InsertRecord(db_, p.sid, *p.sealed, now_);
      if (!id.ok()) return id.status();
      ev_->Bind(7, *id);
    } else {
      ev_->BindNull(7);
    }
    ev_->Bind(1, static_cast<int64_t>(seq))
        .Bind(2, p.sid.bytes())
        .BindText(3, p.purpose)
        .BindText(4, policies::ConflictOutcomeName(p.decision.outcome))
        .BindText(5, p.decision.reason)
        .Bind(6, ByteView(p.dedupe.data(), p.dedupe.size()));
    Status s = ev_->Run();
    ev_->Reset();
    if (!s.ok()) return s;
    // kApply, and kNoChange for a stronger claim of the same decision (newer
    // or higher-ranked): the state moves to this event, or an older event of
    // the other decision would later look newer than the current state.
    if (p.decision.replaces_state) {
      if (!up_) {
        Result<vault::Stmt> up = vault::Stmt::Prepare(
            db_,
            "INSERT INTO consent_state(sid, purpose, decision, occurred_ms, source_system, source_rank, method, seq)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT(sid, purpose) DO UPDATE SET decision = excluded.decision,"
            " occurred_ms = excluded.occurred_ms, source_system = excluded.source_system,"
            " source_rank = excluded.source_rank, method = excluded.method, seq = excluded.seq");
        if (!up.ok()) return up.status();
        up_.emplace(std::move(*up));
      }
      ConsentState st = policies::StateAfter(p.incoming, p.decision, seq);
      up_->Bind(1, p.sid.bytes())
          .BindText(2, p.purpose)
          .Bind(3, st.decision == Decision::kGranted ? 1 : 0)
          .Bind(4, st.occurred_at_ms)
          .BindText(5, st.source_system)
          .Bind(6, st.source_rank)
          .BindText(7, domain::ConsentMethodName(st.method))
          .Bind(8, static_cast<int64_t>(seq));
      s = up_->Run();
      up_->Reset();
      if (!s.ok()) return s;
    }
    if (p.changed && fan_out_ != nullptr) {
      Change& c = changes_.emplace_back();
      c.kind = ChangeKind::kConsent;
      c.sid = p.sid;
      c.seq = seq;
      c.purpose = p.purpose;
      c.decision = p.incoming.decision;
      c.occurred_at_ms = p.incoming.occurred_at_ms;
      c.origin_system = p.incoming.source.system;
    }
    return Status::Ok();
  }

  // The fan-out of the written events, in their order. Its error fails the
  // hook (and so the transaction), as a failed row would.
  Status Finish() {
    if (changes_.empty()) return Status::Ok();
    Status s = fan_out_->EnqueueMany(db_, changes_);
    changes_.clear();
    return s;
  }

 private:
  sqlite3* const db_;
  FanOut* const fan_out_;
  const int64_t now_;
  std::optional<vault::Stmt> ev_, up_;
  std::vector<Change> changes_;
};

}  // namespace

Status ConsentService::EnsureSchema(sqlite3* db) {
  Status s = MigrateConsentEvents(db);
  if (!s.ok()) return s.WithContext("migrate consent_events to one index by subject");
  return vault::Exec(db, kSchema);
}

Status ConsentService::SetWriteCacheKib(int64_t kib) {
  if (kib <= 0) return Status::InvalidArgument("write cache: at least 1 KiB");
  const std::string pragma = "PRAGMA cache_size=-" + std::to_string(kib);
  return writer_.Write({}, [&pragma](sqlite3* db, std::span<const ledger::AppendedEntry>) {
    return vault::Exec(db, pragma);
  });
}

Result<ConsentService::Pending> ConsentService::BuildPending(const domain::Sid& root, const ConsentEvent& e,
                                                             std::string_view purpose,
                                                             const std::optional<ConsentState>& current,
                                                             const policies::PolicySet& policy,
                                                             const vault::DataKey* key) const {
  Pending p;
  p.sid = root;
  p.purpose = std::string(purpose);
  p.dedupe = DedupeKey(root, e, purpose);
  p.incoming = policies::IncomingConsent{p.purpose, e.decision, e.occurred_at_ms, e.source};
  p.decision = policies::ResolveConflict(current, p.incoming, policy);
  if (p.decision.outcome == policies::ConflictOutcome::kRejected) {
    return Status::InvalidArgument("event rejected by the policy: " + std::string(p.decision.reason));
  }
  // Fan-out rule (docs/policies.md "Fan-out"): only an applied event whose
  // decision differs from the subject's previous EFFECTIVE decision, the
  // recorded one or, before any, the purpose's default (in the event's
  // jurisdiction when it names one).
  if (p.decision.outcome == policies::ConflictOutcome::kApply) {
    const policies::Purpose* pp = policy.FindPurpose(purpose);
    const bool was_allowed = policies::EffectiveState(*pp, current, e.jurisdiction).allowed;
    p.changed = (e.decision == Decision::kGranted) != was_allowed;
  }
  Result<std::optional<vault::SealedRecord>> sealed = SealEvidence(subjects_.vault(), root, e.evidence, key);
  if (!sealed.ok()) return sealed.status();
  p.sealed = std::move(*sealed);
  p.entry = {"consent.recorded", ConsentPayload(root, e, purpose, p.decision, policy, p.sealed)};
  return p;
}

Result<std::optional<RecordedConsent>> ConsentService::FindDuplicate(std::span<const domain::Sid> group,
                                                                     const ConsentEvent& e, std::string_view purpose) {
  auto lock = db_.Lock();
  Result<vault::Stmt> q = db_.Cached("SELECT seq, outcome, reason FROM consent_events WHERE sid = ?1 AND dedupe = ?2");
  if (!q.ok()) return q.status();
  for (const domain::Sid& sid : group) {
    const std::array<uint8_t, 32> key = DedupeKey(sid, e, purpose);
    q->Bind(1, sid.bytes()).Bind(2, ByteView(key.data(), key.size()));
    Result<bool> row = q->Step();
    if (!row.ok()) return row.status();
    if (*row) {
      return std::optional<RecordedConsent>(
          StoredDuplicate(purpose, static_cast<uint64_t>(q->Int(0)), q->Text(1), q->Text(2)));
    }
    q->Reset();
  }
  return std::optional<RecordedConsent>();
}

Result<std::vector<domain::Sid>> ConsentService::GroupOf(const domain::Sid& root) {
  std::vector<domain::Sid> group = {root};
  auto lock = db_.Lock();
  Result<vault::Stmt> q = db_.Cached("SELECT sid FROM identity_aliases WHERE surviving_sid = ?");
  if (!q.ok()) return q.status();
  q->Bind(1, root.bytes());
  while (true) {
    Result<bool> row = q->Step();
    if (!row.ok()) return row.status();
    if (!*row) break;
    Result<domain::Sid> sid = domain::Sid::FromBytes(AsBytes(q->Blob(0)));
    if (!sid.ok()) return Status::Corruption("identity_aliases: bad sid");
    group.push_back(*sid);
  }
  return group;
}

ConsentService::ConsentService(ledger::Ledger& ledger, vault::LedgerWriter& writer, vault::Database& db,
                               identity::SubjectRegistry& subjects, std::shared_ptr<const policies::PolicySet> policy,
                               const Clock& clock, RecreationGuard* guard)
    : ledger_(ledger), writer_(writer), db_(db), subjects_(subjects), clock_(clock), guard_(guard),
      policy_(std::move(policy)) {}

std::shared_ptr<const policies::PolicySet> ConsentService::policy() const {
  std::lock_guard<std::mutex> l(policy_mu_);
  return policy_;
}

void ConsentService::SetPolicy(std::shared_ptr<const policies::PolicySet> policy) {
  std::lock_guard<std::mutex> l(policy_mu_);
  policy_ = std::move(policy);
}

std::mutex& ConsentService::LockFor(const domain::Sid& sid) {
  return subject_locks_[sid.HashBits() % subject_locks_.size()];
}

Status ConsentService::ValidateEventFormat(const ConsentEvent& e) {
  if (e.identifiers.empty()) return Status::InvalidArgument("/identifiers: at least one identifier is required");
  if (e.identifiers.size() > kMaxIdentifiers) return Status::InvalidArgument("/identifiers: at most 16 identifiers");
  if (!e.notice_id.empty() && !IsToken(e.notice_id, 64)) {
    return Status::InvalidArgument("/notice/id: 1..64 of [A-Za-z0-9._:-]");
  }
  if (!e.notice_version.empty() && !IsToken(e.notice_version, 64)) {
    return Status::InvalidArgument("/notice/version: 1..64 of [A-Za-z0-9._:-]");
  }
  if (!e.language.empty() && !IsLanguageTag(e.language)) {
    return Status::InvalidArgument("/language: not a BCP 47 language tag");
  }
  if (!e.event_id.empty() && (e.event_id.size() > 128 || !IsPrintable(e.event_id))) {
    return Status::InvalidArgument("/event_id: 1..128 printable bytes");
  }
  if (e.evidence.ip.size() > 64 || !IsPrintable(e.evidence.ip)) return Status::InvalidArgument("/evidence/ip: too long");
  if (e.evidence.user_agent.size() > 1024 || !IsPrintable(e.evidence.user_agent)) {
    return Status::InvalidArgument("/evidence/user_agent: at most 1024 printable bytes");
  }
  if (e.evidence.url.size() > 2048 || !IsPrintable(e.evidence.url)) {
    return Status::InvalidArgument("/evidence/url: at most 2048 printable bytes");
  }
  if (!e.evidence.notice_text_version.empty() && !IsToken(e.evidence.notice_text_version, 128)) {
    return Status::InvalidArgument("/evidence/notice_text_version: 1..128 of [A-Za-z0-9._:-]");
  }
  return Status::Ok();
}

Result<RecordResult> ConsentService::Record(const ConsentEvent& e) {
  std::shared_ptr<const policies::PolicySet> policy = this->policy();
  std::vector<std::string> purposes;
  Status s = Prepare(e, *policy, &purposes);
  if (!s.ok()) return s;
  return RecordPrepared(e, purposes, *policy);
}

Status ConsentService::Validate(const ConsentEvent& e) {
  std::vector<std::string> purposes;
  return Prepare(e, *policy(), &purposes);
}

Status ConsentService::Prepare(const ConsentEvent& e, const policies::PolicySet& policy_set,
                               std::vector<std::string>* out_purposes) {
  Status s = ValidateEventFormat(e);
  if (!s.ok()) return s;
  const policies::PolicySet* policy = &policy_set;
  const int64_t now = clock_.NowMillis();
  if (e.occurred_at_ms > now + kMaxFutureSkewMs) {
    return Status::InvalidArgument("/occurred_at: more than 5 minutes in the future");
  }
  if (e.occurred_at_ms < kEarliestMs) return Status::InvalidArgument("/occurred_at: before 1990");
  if (!e.source.system.empty() && !policy->FindSystem(e.source.system)) {
    return Status::InvalidArgument("/source/system: unknown system");
  }
  if (!e.jurisdiction.empty() && !policy->FindJurisdiction(e.jurisdiction)) {
    return Status::InvalidArgument("/jurisdiction: unknown jurisdiction");
  }
  if (!e.legal_basis.empty() && !policies::ParseLegalBasis(e.legal_basis)) {
    return Status::InvalidArgument("/legal_basis: one of " + policies::LegalBasisNames());
  }
  std::vector<std::string> purposes;
  if (e.purpose.empty()) {
    if (e.source.method != domain::ConsentMethod::kGpc) return Status::InvalidArgument("/purpose: is required");
    if (e.decision != Decision::kWithdrawn) return Status::InvalidArgument("/decision: a GPC signal is a withdrawal");
    for (const policies::IncomingConsent& g : policies::ExpandGpc(*policy, e.occurred_at_ms, e.source.system)) {
      purposes.push_back(g.purpose);
    }
    if (purposes.empty()) return Status::FailedPrecondition("the policy has no sale_sharing purpose for a GPC signal");
  } else {
    if (!policy->FindPurpose(e.purpose)) return Status::InvalidArgument("/purpose: unknown purpose");
    purposes.push_back(e.purpose);
  }
  if (guard_) {
    s = guard_->Check(e.identifiers, e.source);
    if (!s.ok()) return s;
  }
  *out_purposes = std::move(purposes);
  return Status::Ok();
}

Result<RecordResult> ConsentService::RecordPrepared(const ConsentEvent& e, const std::vector<std::string>& purposes,
                                                    const policies::PolicySet& policy) {
  // Filled by the continuation, which runs before the write (possibly more
  // than once); read back after it.
  RecordResult out;
  std::vector<Pending> pending;
  std::vector<size_t> slot;  // pending[i] -> out.recorded[slot[i]]
  std::vector<uint64_t> seqs;
  auto then = [&](const identity::Resolution& r) -> Result<identity::ResolveExtra> {
    out = RecordResult();
    out.sid = r.sid;
    pending.clear();
    slot.clear();
    seqs.clear();
    identity::ResolveExtra extra;
    // Events for one subject are serialized: held until the commit is durable.
    auto lock = std::make_shared<std::unique_lock<std::mutex>>(LockFor(r.sid));
    extra.hold = lock;
    const bool fresh = r.outcome == identity::Resolution::Outcome::kCreated;  // nothing stored yet
    std::vector<domain::Sid> group = {r.sid};
    if (!fresh) {
      Result<std::vector<domain::Sid>> g = GroupOf(r.sid);
      if (!g.ok()) return g.status();
      group = std::move(*g);
    }
    for (const std::string& purpose : purposes) {
      if (!fresh) {
        Result<std::optional<RecordedConsent>> dup = FindDuplicate(group, e, purpose);
        if (!dup.ok()) return dup.status();
        if (*dup) {
          out.recorded.push_back(std::move(**dup));
          continue;
        }
      }
      std::optional<ConsentState> current;
      if (!fresh) {
        Result<std::optional<ConsentState>> c = CurrentState(r.sid, purpose);
        if (!c.ok()) return c.status();
        current = *c;
      }
      Result<Pending> p =
          BuildPending(r.sid, e, purpose, current, policy, r.created_key ? &*r.created_key : nullptr);
      if (!p.ok()) return p.status();
      extra.entries.push_back(p->entry);
      slot.push_back(out.recorded.size());
      out.recorded.push_back(RecordedConsent{purpose, 0, p->decision.outcome, std::string(p->decision.reason), false});
      pending.push_back(std::move(*p));
    }
    if (pending.empty()) return extra;
    const int64_t now = clock_.NowMillis();
    extra.hook = [this, &pending, &seqs, now](sqlite3* db, std::span<const ledger::AppendedEntry> appended) -> Status {
      RowWriter w(db, fan_out_, now);
      for (size_t i = 0; i < pending.size(); ++i) {
        Status s = w.Write(pending[i], appended[i].seq);
        if (!s.ok()) return s;
      }
      Status fs = w.Finish();
      if (!fs.ok()) return fs;
      seqs.clear();
      for (const ledger::AppendedEntry& a : appended) seqs.push_back(a.seq);
      return Status::Ok();
    };
    return extra;
  };
  Result<identity::Resolution> r = subjects_.ResolveAndWrite(e.identifiers, then);
  if (!r.ok()) {
    if (r.status().code() != StatusCode::kInvalidArgument) return r.status();
    // Name the identifier that does not normalize (the message never holds
    // its value).
    for (size_t i = 0; i < e.identifiers.size(); ++i) {
      Result<domain::NormalizedIdentifier> n = identity::Normalize(e.identifiers[i], subjects_.rules());
      if (n.ok()) continue;
      const std::string msg = n.status().message();  // a copy: status() returns by value
      const char* member = msg.find("qualifier") != std::string::npos ? "/qualifier" : "/value";
      return Status::InvalidArgument("/identifiers/" + std::to_string(i) + member + ": " + msg);
    }
    return r.status();
  }
  if (r->outcome == identity::Resolution::Outcome::kAmbiguous) {
    std::string reviews;
    for (const std::string& id : r->review_ids) reviews += (reviews.empty() ? "" : ",") + id;
    return Status::FailedPrecondition("the identifiers belong to several subjects; review queued: " + reviews);
  }
  if (seqs.size() != pending.size()) return Status::Internal("consent entries missing after commit");
  for (size_t i = 0; i < pending.size(); ++i) out.recorded[slot[i]].seq = seqs[i];
  return out;
}

Result<std::optional<ConsentState>> ConsentService::CurrentState(const domain::Sid& root, std::string_view purpose) {
  auto lock = db_.Lock();
  Result<vault::Stmt> q = db_.Cached(
      // Two key probes (the root's own row, then its aliases' rows): an OR
      // with an IN subquery made SQLite de-duplicate through a RowSet.
      "SELECT decision, occurred_ms, source_system, source_rank, method, seq FROM consent_state"
      " WHERE sid = ?1 AND purpose = ?2"
      " UNION ALL SELECT c.decision, c.occurred_ms, c.source_system, c.source_rank, c.method, c.seq"
      " FROM identity_aliases a JOIN consent_state c ON c.sid = a.sid AND c.purpose = ?2 WHERE a.surviving_sid = ?1");
  if (!q.ok()) return q.status();
  q->Bind(1, root.bytes()).BindText(2, purpose);
  std::optional<ConsentState> best;
  while (true) {
    Result<bool> row = q->Step();
    if (!row.ok()) return row.status();
    if (!*row) break;
    Result<ConsentState> st = StateFromRow(*q, 0);
    if (!st.ok()) return st.status();
    if (!best || Beats(*st, *best)) best = std::move(*st);
  }
  return best;
}

Result<ConsentAnswer> ConsentService::Query(const domain::Identifier& identifier, std::string_view purpose,
                                            std::string_view jurisdiction, std::optional<domain::Sid>* subject) {
  if (subject) subject->reset();
  std::shared_ptr<const policies::PolicySet> policy = this->policy();
  const policies::Purpose* p = policy->FindPurpose(purpose);
  if (!p) return Status::InvalidArgument("purpose: unknown purpose");
  if (QueryCache* cache = query_cache_.load()) return QueryCached(*cache, identifier, *p, purpose, jurisdiction, subject);
  Result<std::optional<domain::Sid>> sid = subjects_.Lookup(identifier);
  if (!sid.ok()) return sid.status();
  if (subject) *subject = *sid;
  if (!*sid) {
    ConsentAnswer a;
    a.allowed = policies::EffectiveState(*p, std::nullopt, jurisdiction).allowed;
    return a;
  }
  return QuerySubject(**sid, purpose, jurisdiction);
}

ConsentAnswer AnswerForSubject(const policies::Purpose& purpose, std::optional<ConsentState> state,
                               std::string_view jurisdiction) {
  policies::EffectiveConsent eff = policies::EffectiveState(purpose, state, jurisdiction);
  ConsentAnswer a;
  a.known_subject = true;
  a.allowed = eff.allowed;
  a.from_default = eff.from_default;
  a.state = std::move(state);
  return a;
}

Result<ConsentAnswer> ConsentService::QueryCached(QueryCache& cache, const domain::Identifier& identifier,
                                                  const policies::Purpose& p, std::string_view purpose,
                                                  std::string_view jurisdiction, std::optional<domain::Sid>* subject) {
  Result<std::vector<identity::BlindIndex>> probes = subjects_.ProbesOf(identifier);
  if (!probes.ok()) return probes.status();
  // One probe: no blind-index rotation in progress (see query_cache.h).
  const bool usable = probes->size() == 1 && cache.Begin();
  std::optional<domain::Sid> root;
  std::optional<std::optional<domain::Sid>> hit;
  if (usable) hit = cache.FindSubject(probes->front());
  if (hit) {
    root = *hit;
  } else {
    // The version is taken before the read (query_cache.h).
    const uint64_t version = usable ? cache.SubjectVersion(probes->front()) : 0;
    Result<std::optional<domain::Sid>> found = subjects_.LookupProbes(*probes);
    if (!found.ok()) return found.status();
    root = *found;
    if (usable) cache.PutSubject(probes->front(), root, version);
  }
  if (subject) *subject = root;
  ConsentAnswer a;
  if (!root) {
    a.allowed = policies::EffectiveState(p, std::nullopt, jurisdiction).allowed;
    return a;
  }
  std::optional<std::optional<ConsentState>> st;
  if (usable) st = cache.FindState(*root, purpose);
  if (!st) {
    const uint64_t version = usable ? cache.StateVersion(*root) : 0;
    Result<bool> merged = usable ? HasMerged(*root) : Result<bool>(true);
    if (!merged.ok()) return merged.status();
    Result<std::optional<ConsentState>> current = CurrentState(*root, purpose);
    if (!current.ok()) return current.status();
    st = std::move(*current);
    if (usable && !*merged) cache.PutState(*root, purpose, *st, version);
  }
  return AnswerForSubject(p, std::move(*st), jurisdiction);
}

Status ConsentService::WarmQueryCache(const std::function<bool()>& stop) {
  size_t rows = 0;
  auto stopped = [&] { return stop && (++rows % 4096) == 0 && stop(); };
  QueryCache* cache = query_cache_.load();
  if (cache == nullptr || !cache->Begin()) return Status::Ok();
  const QueryCache::Versions versions = cache->AllVersions();
  std::set<domain::Sid> merged;  // survivors and the subjects merged into them: not cached
  {
    auto lock = db_.Lock();
    vault::ReadTransaction txn(db_.handle());
    Result<vault::Stmt> q = vault::Stmt::Prepare(db_.handle(), "SELECT sid, surviving_sid FROM identity_aliases");
    if (!q.ok()) return q.status();
    while (true) {
      Result<bool> row = q->Step();
      if (!row.ok()) return row.status();
      if (!*row) break;
      for (int c = 0; c < 2; ++c) {
        Result<domain::Sid> sid = domain::Sid::FromBytes(AsBytes(q->Blob(c)));
        if (!sid.ok()) return Status::Corruption("identity_aliases: bad sid");
        merged.insert(*sid);
      }
    }
  }
  Status s = subjects_.ScanRoots([&](const identity::BlindIndex& bidx, const domain::Sid& root) {
    cache->PutSubject(bidx, root, versions);
    return !stopped();
  });
  if (!s.ok() && s.code() != StatusCode::kFailedPrecondition) return s;
  auto lock = db_.Lock();
  vault::ReadTransaction txn(db_.handle());
  Result<vault::Stmt> q = vault::Stmt::Prepare(
      db_.handle(), "SELECT sid, purpose, decision, occurred_ms, source_system, source_rank, method, seq FROM consent_state");
  if (!q.ok()) return q.status();
  while (true) {
    Result<bool> row = q->Step();
    if (!row.ok()) return row.status();
    if (!*row || stopped()) return Status::Ok();
    Result<domain::Sid> sid = domain::Sid::FromBytes(AsBytes(q->Blob(0)));
    if (!sid.ok()) return Status::Corruption("consent_state: bad sid");
    if (merged.count(*sid)) continue;
    Result<ConsentState> st = StateFromRow(*q, 2);
    if (!st.ok()) return st.status();
    cache->PutState(*sid, q->Text(1), *st, versions);
  }
}

Result<bool> ConsentService::HasMerged(const domain::Sid& root) {
  auto lock = db_.Lock();
  Result<vault::Stmt> q = db_.Cached("SELECT 1 FROM identity_aliases WHERE surviving_sid = ?1 LIMIT 1");
  if (!q.ok()) return q.status();
  q->Bind(1, root.bytes());
  Result<bool> row = q->Step();
  q->Reset();
  return row;
}

Result<ConsentAnswer> ConsentService::QuerySubject(const domain::Sid& root, std::string_view purpose,
                                                   std::string_view jurisdiction) {
  std::shared_ptr<const policies::PolicySet> policy = this->policy();
  const policies::Purpose* p = policy->FindPurpose(purpose);
  if (!p) return Status::InvalidArgument("purpose: unknown purpose");
  Result<std::optional<ConsentState>> st = CurrentState(root, purpose);
  if (!st.ok()) return st.status();
  return AnswerForSubject(*p, std::move(*st), jurisdiction);
}

Status ConsentService::QueryMany(std::span<const domain::Identifier> identifiers, std::string_view purpose,
                                 std::string_view jurisdiction, std::vector<Result<ConsentAnswer>>* out,
                                 std::vector<std::optional<domain::Sid>>* subjects) {
  std::shared_ptr<const policies::PolicySet> policy = this->policy();
  const policies::Purpose* p = policy->FindPurpose(purpose);
  if (!p) return Status::InvalidArgument("/purpose: unknown purpose");
  QueryCache* cache = query_cache_.load();
  // One look for other processes' writes for the whole call: the answers
  // are those of its start, or newer.
  if (cache == nullptr || !cache->Begin()) {
    return CheckMany(db_, subjects_, *p, purpose, jurisdiction, identifiers, /*parts=*/2, out, subjects);
  }
  // Through the query index: answers from memory, in two parts (blind
  // indexes cost ~1 us each); the identifiers it does not answer go to the
  // batched database read together.
  const size_t n = identifiers.size();
  out->assign(n, Result<ConsentAnswer>(Status::Internal("not answered")));
  subjects->assign(n, std::nullopt);
  const size_t parts = n >= 512 ? 2 : 1;
  // A miss, with what is needed to store its lookup afterwards (identifiers
  // without subject are the usual misses of a list: a marketing tool asks
  // about people consentd never heard of).
  struct Miss {
    size_t index;
    std::optional<identity::BlindIndex> probe;  // when the lookup may be cached
    uint64_t version = 0;                       // taken before the batched read
  };
  std::vector<std::vector<Miss>> missed(parts);
  RunParts(parts, [&](size_t k) {
    auto [b, e] = PartRange(n, parts, k);
    for (size_t i = b; i < e; ++i) {
      Result<std::vector<identity::BlindIndex>> probes = subjects_.ProbesOf(identifiers[i]);
      if (!probes.ok()) {
        (*out)[i] = probes.status();
        continue;
      }
      Miss miss{i, std::nullopt, 0};
      if (probes->size() == 1) {
        std::optional<ConsentAnswer> a = AnswerFromCache(*cache, probes->front(), *p, purpose, jurisdiction, &(*subjects)[i]);
        if (a) {
          (*out)[i] = std::move(*a);
          continue;
        }
        miss.probe = probes->front();
        miss.version = cache->SubjectVersion(probes->front());
      }
      missed[k].push_back(miss);
    }
  });
  std::vector<domain::Identifier> rest;
  std::vector<const Miss*> where;
  for (const std::vector<Miss>& m : missed) {
    for (const Miss& miss : m) {
      rest.push_back(identifiers[miss.index]);
      where.push_back(&miss);
    }
  }
  if (rest.empty()) return Status::Ok();
  std::vector<Result<ConsentAnswer>> rest_out;
  std::vector<std::optional<domain::Sid>> rest_subjects;
  Status s = CheckMany(db_, subjects_, *p, purpose, jurisdiction, rest, /*parts=*/2, &rest_out, &rest_subjects);
  if (!s.ok()) return s;
  for (size_t j = 0; j < where.size(); ++j) {
    const Miss& miss = *where[j];
    // The subject each lookup found, or none, as a single query would
    // store it (the version refuses it if the identity rows changed).
    if (miss.probe && rest_out[j].ok()) cache->PutSubject(*miss.probe, rest_subjects[j], miss.version);
    (*out)[miss.index] = std::move(rest_out[j]);
    (*subjects)[miss.index] = rest_subjects[j];
  }
  return Status::Ok();
}

std::optional<ConsentAnswer> ConsentService::AnswerFromCache(QueryCache& cache, const identity::BlindIndex& probe,
                                                             const policies::Purpose& p, std::string_view purpose,
                                                             std::string_view jurisdiction,
                                                             std::optional<domain::Sid>* subject) {
  std::optional<std::optional<domain::Sid>> root = cache.FindSubject(probe);
  if (!root) return std::nullopt;
  ConsentAnswer a;
  if (!*root) {
    if (subject) subject->reset();
    a.allowed = policies::EffectiveState(p, std::nullopt, jurisdiction).allowed;
    return a;
  }
  std::optional<std::optional<ConsentState>> st = cache.FindState(**root, purpose);
  if (!st) return std::nullopt;
  if (subject) *subject = *root;
  return AnswerForSubject(p, std::move(*st), jurisdiction);
}

Status ConsentService::ForEachWithdrawn(std::string_view purpose,
                                        const std::function<Status(const domain::Sid&)>& fn) {
  constexpr int kPage = 1000;
  std::string after;  // sid bytes of the last row seen
  std::set<domain::Sid> reported;
  while (true) {
    std::vector<domain::Sid> page;
    {
      auto lock = db_.Lock();
      Result<vault::Stmt> q = db_.Cached(
          "SELECT sid FROM consent_state WHERE purpose = ?1 AND sid > ?2 AND decision = 0 ORDER BY sid LIMIT ?3");
      if (!q.ok()) return q.status();
      q->BindText(1, purpose).Bind(2, AsBytes(after)).Bind(3, kPage);
      while (true) {
        Result<bool> row = q->Step();
        if (!row.ok()) return row.status();
        if (!*row) break;
        Result<domain::Sid> sid = domain::Sid::FromBytes(AsBytes(q->Blob(0)));
        if (!sid.ok()) return Status::Corruption("consent_state: bad sid");
        page.push_back(*sid);
      }
    }
    for (const domain::Sid& sid : page) {
      // A merged subject's row speaks for its survivor, whose combined state
      // decides; each survivor is reported once.
      Result<identity::SubjectInfo> info = subjects_.Subject(sid);
      if (!info.ok()) continue;  // shredded meanwhile
      const domain::Sid root = info->resolves_to;
      if (!reported.insert(root).second) continue;
      Result<ConsentAnswer> a = QuerySubject(root, purpose);
      if (!a.ok()) return a.status();
      if (a->allowed || !a->state) continue;
      Status s = fn(root);
      if (!s.ok()) return s;
    }
    if (page.size() < static_cast<size_t>(kPage)) return Status::Ok();
    after = std::string(AsChars(page.back().bytes()));
  }
}

Result<std::vector<HistoryItem>> ConsentService::History(const domain::Sid& sid) {
  Result<identity::SubjectInfo> info = subjects_.Subject(sid);
  if (!info.ok()) return info.status();
  const domain::Sid root = info->resolves_to;
  std::vector<std::pair<uint64_t, std::optional<int64_t>>> rows;
  {
    auto lock = db_.Lock();
    Result<vault::Stmt> q = db_.Cached(
        "SELECT seq, evidence_record FROM consent_events"
        " WHERE sid = ?1 OR sid IN (SELECT sid FROM identity_aliases WHERE surviving_sid = ?1) ORDER BY seq");
    if (!q.ok()) return q.status();
    q->Bind(1, root.bytes());
    while (true) {
      Result<bool> row = q->Step();
      if (!row.ok()) return row.status();
      if (!*row) break;
      std::optional<int64_t> rec;
      if (!q->IsNull(1)) rec = q->Int(1);
      rows.emplace_back(static_cast<uint64_t>(q->Int(0)), rec);
    }
  }
  std::vector<HistoryItem> out;
  for (const auto& [seq, rec] : rows) {
    HistoryItem item;
    item.seq = seq;
    Result<std::string> entry = ledger_.ReadEntry(seq);
    if (!entry.ok()) return entry.status();
    item.entry = std::move(*entry);
    if (rec) {
      Result<std::string> ev = subjects_.vault().OpenRecord(*rec);
      if (ev.ok()) item.evidence = std::move(*ev);
    }
    out.push_back(std::move(item));
  }
  return out;
}

// ---------------------------------------------------------------------------
// Batches (imports).

// A run's consent between its preparation and its write (PrepareRun,
// RecordRun): what every purpose of every event becomes, and the locks of
// the run's subjects, held throughout.
struct ConsentService::PreparedRun {
  struct Item {
    size_t event = 0;  // position in the run
    std::string purpose;
    std::array<uint8_t, 32> dedupe{};
    size_t pending = SIZE_MAX;        // index in `pending` (and in the Append), or SIZE_MAX for a duplicate
    size_t duplicate_of = SIZE_MAX;   // an earlier item of this run
    std::optional<RecordedConsent> stored;  // a duplicate of a stored event
  };
  std::vector<size_t> index;        // the run's events, positions in the batch
  std::vector<domain::Sid> sids;    // their subjects as resolved
  std::vector<bool> created;        // whether the resolution created the subject
  std::vector<Item> items;
  std::vector<Pending> pending;
  std::vector<bool> failed;                        // per event of the run
  std::vector<std::pair<size_t, Status>> errors;   // (position in the run, error) of failed events
  std::vector<std::unique_lock<std::mutex>> locks;
  // The pending events' entries, moved out of `pending` and checked by
  // ledger::Ledger::Check (TakeEntries); unset until then.
  std::optional<Result<ledger::CheckedEntries>> entries;

  // Moves the pending events' entries into `entries`, checked. PrepareRun
  // does it while the writer is busy with the previous transaction, so that
  // the Append need not check them on the way in.
  void TakeEntries() {
    std::vector<ledger::NewEntry> all;
    all.reserve(pending.size());
    for (Pending& p : pending) all.push_back(std::move(p.entry));
    entries = ledger::Ledger::Check(std::move(all));
  }

  // Whether this run was prepared for the events `run` with the
  // resolutions that became durable.
  bool PreparedFrom(std::span<const size_t> run, std::span<const identity::Resolution> resolved) const {
    if (index.size() != run.size() || resolved.size() < run.size()) return false;
    for (size_t k = 0; k < run.size(); ++k) {
      const bool was_created = resolved[k].outcome == identity::Resolution::Outcome::kCreated;
      if (index[k] != run[k] || sids[k] != resolved[k].sid || created[k] != was_created) return false;
    }
    return true;
  }
};

std::vector<Result<RecordResult>> ConsentService::RecordBatch(std::span<const ConsentEvent> events) {
  return FinishBatch(StartBatch(events));
}

bool ConsentService::BatchInProgress::ResolvedWhole() const {
  if (next >= valid.size()) return true;
  if (!run_k) return false;
  return !run_k->ok() || **run_k == valid.size() - next;
}

ConsentService::BatchInProgress ConsentService::StartBatch(std::span<const ConsentEvent> events,
                                                           const RunPlannedFn& on_planned) {
  BatchInProgress b;
  b.events = events;
  b.policy = this->policy();
  b.results.assign(events.size(), Result<RecordResult>(Status::Internal("not recorded")));
  b.purposes.resize(events.size());
  // The checks of a large batch run in two halves at the same time (the
  // format and policy checks and the recreation guard's reads, ~7% of an
  // import's CPU, are independent per event; the machine has a second
  // core). Each half writes only its own events' slots.
  std::vector<Status> prepared(events.size(), Status::Ok());
  const size_t parts = events.size() >= 4096 ? 2 : 1;
  RunParts(parts, [&](size_t k) {
    auto [begin, end] = PartRange(events.size(), parts, k);
    for (size_t i = begin; i < end; ++i) prepared[i] = Prepare(events[i], *b.policy, &b.purposes[i]);
  });
  for (size_t i = 0; i < events.size(); ++i) {
    if (prepared[i].ok()) {
      b.valid.push_back(i);
    } else {
      b.results[i] = std::move(prepared[i]);
    }
  }
  ResolveRun(&b, on_planned);
  return b;
}

void ConsentService::ResolveRun(BatchInProgress* b, const RunPlannedFn& on_planned) {
  // One run for the rest of the batch (the caller sizes batches): a run is
  // two durable transactions whatever its size, and fewer, larger runs
  // touch each page of the tables keyed by blind indexes fewer times.
  b->resolved.clear();
  b->run_k.reset();
  if (b->next == b->valid.size()) return;
  std::vector<std::span<const domain::Identifier>> sets;
  sets.reserve(b->valid.size() - b->next);
  for (size_t k = b->next; k < b->valid.size(); ++k) sets.emplace_back(b->events[b->valid[k]].identifiers);
  identity::SubjectRegistry::PlannedFn planned_fn;
  if (on_planned) {
    // Views into *b's vectors, which nothing resizes from here on (moving
    // the BatchInProgress keeps their storage).
    planned_fn = [b, &on_planned](std::vector<identity::Resolution> resolved) {
      PlannedRun run;
      run.events = b->events;
      run.index = std::span<const size_t>(b->valid.data() + b->next, resolved.size());
      run.purposes = b->purposes;
      run.policy = b->policy;
      run.resolved = std::move(resolved);
      on_planned(std::move(run));
    };
  }
  b->run_k.emplace(subjects_.ResolveBatch(sets, &b->resolved, planned_fn));
}

std::vector<Result<RecordResult>> ConsentService::FinishBatch(BatchInProgress b, std::shared_ptr<PreparedRun> early) {
  while (b.next < b.valid.size()) {
    if (!b.run_k) ResolveRun(&b);
    const Result<size_t> k = std::move(*b.run_k);
    b.run_k.reset();
    const size_t n = b.valid.size() - b.next;
    std::span<const size_t> run(b.valid.data() + b.next, n);
    // Only the first run can have been prepared early. Dropped, its locks
    // released (whoever else holds the pointer), before anything else here
    // takes a subject's lock.
    std::shared_ptr<PreparedRun> prepared = std::move(early);
    auto drop = [&prepared] {
      if (prepared) prepared->locks.clear();
      prepared.reset();
    };
    if (!k.ok()) {
      drop();
      for (size_t i : run) b.results[i] = k.status();
      b.next += n;
      continue;
    }
    if (*k > 0) {
      if (prepared && !prepared->PreparedFrom(run.first(*k), b.resolved)) {
        drop();
      }
      if (prepared) {
        WriteRun(*prepared, &b.results);
      } else {
        RecordRun(b.events, run.first(*k), b.purposes, b.resolved, *b.policy, &b.results);
      }
    }
    drop();
    b.next += *k;
    if (*k < n) {
      // This event needs the full resolution rules: Record's path.
      const size_t i = b.valid[b.next];
      b.results[i] = RecordPrepared(b.events[i], b.purposes[i], *b.policy);
      ++b.next;
    }
  }
  return std::move(b.results);
}

Status ConsentService::StateParts(const domain::Sid& root, std::string_view purpose,
                                  std::optional<ConsentState>* own, std::optional<ConsentState>* merged) {
  auto lock = db_.Lock();
  Result<vault::Stmt> q = db_.Cached(
      "SELECT sid, decision, occurred_ms, source_system, source_rank, method, seq FROM consent_state"
      " WHERE purpose = ?2 AND (sid = ?1 OR sid IN (SELECT sid FROM identity_aliases WHERE surviving_sid = ?1))");
  if (!q.ok()) return q.status();
  q->Bind(1, root.bytes()).BindText(2, purpose);
  const std::string root_bytes(AsChars(root.bytes()));
  while (true) {
    Result<bool> row = q->Step();
    if (!row.ok()) return row.status();
    if (!*row) break;
    Result<ConsentState> st = StateFromRow(*q, 1);
    if (!st.ok()) return st.status();
    if (q->Blob(0) == root_bytes) {
      *own = std::move(*st);
    } else if (!*merged || Beats(*st, **merged)) {
      *merged = std::move(*st);
    }
  }
  return Status::Ok();
}

std::shared_ptr<ConsentService::PreparedRun> ConsentService::PrepareRun(PlannedRun run) {
  auto prepared = std::make_shared<PreparedRun>();
  BuildRun(run.events, run.index, run.purposes, run.resolved, *run.policy, prepared.get());
  prepared->TakeEntries();
  return prepared;  // run.resolved, with the new subjects' keys, is wiped here
}

void ConsentService::RecordRun(std::span<const ConsentEvent> events, std::span<const size_t> index,
                               std::span<const std::vector<std::string>> purposes,
                               std::span<const identity::Resolution> resolved, const policies::PolicySet& policy,
                               std::vector<Result<RecordResult>>* results) {
  PreparedRun run;
  BuildRun(events, index, purposes, resolved, policy, &run);
  WriteRun(run, results);
}

void ConsentService::BuildRun(std::span<const ConsentEvent> events, std::span<const size_t> index,
                              std::span<const std::vector<std::string>> purposes,
                              std::span<const identity::Resolution> resolved, const policies::PolicySet& policy,
                              PreparedRun* run) {
  using Item = PreparedRun::Item;
  // Per (subject, purpose): the subject's own row as this run leaves it, and
  // the best row of the subjects merged into it (unchanged by the run: it
  // holds no merge).
  struct Current {
    std::optional<ConsentState> own, merged;
  };
  std::unordered_map<std::pair<domain::Sid, std::string>, Current, SidPurposeHash> current;
  std::unordered_map<std::array<uint8_t, 32>, size_t, DedupeKeyHash> seen;  // dedupe key -> item
  current.reserve(index.size());
  seen.reserve(index.size());
  std::vector<Item>& items = run->items;
  std::vector<Pending>& pending = run->pending;
  run->index.assign(index.begin(), index.end());
  run->failed.assign(index.size(), false);
  run->sids.reserve(index.size());
  run->created.reserve(index.size());
  // Keys of subjects this run's resolution creates, when it is not durable
  // yet (PrepareRun): their key rows cannot be read, evidence is sealed
  // under these.
  std::unordered_map<domain::Sid, const vault::DataKey*> new_keys;
  for (size_t k = 0; k < index.size(); ++k) {
    run->sids.push_back(resolved[k].sid);
    run->created.push_back(resolved[k].outcome == identity::Resolution::Outcome::kCreated);
    if (resolved[k].created_key) new_keys.emplace(resolved[k].sid, &*resolved[k].created_key);
  }
  auto fail = [&](size_t k, Status st) {
    run->errors.emplace_back(k, std::move(st));
    run->failed[k] = true;
  };

  // Events for one subject are serialized: hold the locks of every subject
  // of the run, in lock order.
  std::set<size_t> lock_ids;
  for (size_t k = 0; k < index.size(); ++k) lock_ids.insert(&LockFor(resolved[k].sid) - subject_locks_.data());
  for (size_t id : lock_ids) run->locks.emplace_back(subject_locks_[id]);

  const uint64_t base_seq = ledger_.Size();  // placeholder seqs order rows as the commit will
  for (size_t k = 0; k < index.size(); ++k) {
    const ConsentEvent& e = events[index[k]];
    const domain::Sid& sid = resolved[k].sid;
    const bool created = run->created[k];
    std::vector<domain::Sid> group = {sid};
    if (!created) {
      Result<std::vector<domain::Sid>> g = GroupOf(sid);
      if (!g.ok()) {
        fail(k, g.status());
        continue;
      }
      group = std::move(*g);
    }
    auto key = new_keys.find(sid);
    const vault::DataKey* new_key = key == new_keys.end() ? nullptr : key->second;
    for (const std::string& purpose : purposes[index[k]]) {
      Item it;
      it.event = k;
      it.purpose = purpose;
      it.dedupe = DedupeKey(sid, e, purpose);
      auto dup = seen.find(it.dedupe);
      if (dup != seen.end()) {
        it.duplicate_of = dup->second;
        items.push_back(std::move(it));
        continue;
      }
      if (!created) {  // a new subject has no stored events
        Result<std::optional<RecordedConsent>> d = FindDuplicate(group, e, purpose);
        if (!d.ok()) {
          fail(k, d.status());
          break;
        }
        if (*d) {
          it.stored = std::move(**d);
          items.push_back(std::move(it));
          continue;
        }
      }
      auto [cur, fresh] = current.try_emplace({sid, purpose});
      if (fresh && !created) {
        Status ss = StateParts(sid, purpose, &cur->second.own, &cur->second.merged);
        if (!ss.ok()) {
          fail(k, ss);
          break;
        }
      }
      std::optional<ConsentState> state = cur->second.own;
      if (cur->second.merged && (!state || Beats(*cur->second.merged, *state))) state = cur->second.merged;
      Result<Pending> p = BuildPending(sid, e, purpose, state, policy, new_key);
      if (!p.ok()) {
        fail(k, p.status());
        break;
      }
      if (p->decision.replaces_state) {
        cur->second.own = policies::StateAfter(p->incoming, p->decision, base_seq + pending.size());
      }
      it.pending = pending.size();
      pending.push_back(std::move(*p));
      seen.emplace(it.dedupe, items.size());
      items.push_back(std::move(it));
    }
  }
}

void ConsentService::WriteRun(PreparedRun& run, std::vector<Result<RecordResult>>* results) {
  using Item = PreparedRun::Item;
  std::vector<Pending>& pending = run.pending;
  const std::vector<Item>& items = run.items;
  const std::vector<size_t>& index = run.index;
  for (auto& [k, st] : run.errors) (*results)[index[k]] = std::move(st);

  // One durable transaction for the run's entries and rows.
  std::vector<uint64_t> seqs;
  Status s = Status::Ok();
  if (!pending.empty()) {
    const int64_t now = clock_.NowMillis();
    if (!run.entries) run.TakeEntries();
    if (!run.entries->ok()) {
      s = run.entries->status();
    } else {
      s = writer_.WriteChecked(std::move(**run.entries),
                               [&](sqlite3* db, std::span<const ledger::AppendedEntry> appended) -> Status {
                                 RowWriter w(db, fan_out_, now);
                                 for (size_t i = 0; i < pending.size(); ++i) {
                                   Status ws = w.Write(pending[i], appended[i].seq);
                                   if (!ws.ok()) return ws;
                                 }
                                 Status fs = w.Finish();
                                 if (!fs.ok()) return fs;
                                 seqs.clear();
                                 for (const ledger::AppendedEntry& a : appended) seqs.push_back(a.seq);
                                 return Status::Ok();
                               });
    }
  }
  run.locks.clear();  // durable (or failed): the subjects' next events may go

  // Results, in event order. An event that failed above keeps its error; a
  // failed commit fails every event that had an entry in it.
  std::vector<RecordResult> out(index.size());
  std::vector<bool> in_commit(index.size(), false);
  for (size_t k = 0; k < index.size(); ++k) out[k].sid = run.sids[k];
  for (const Item& it : items) {
    RecordedConsent c;
    if (it.stored) {
      c = *it.stored;
    } else {
      const Item& first = it.duplicate_of == SIZE_MAX ? it : items[it.duplicate_of];
      const Pending& p = pending[first.pending];
      in_commit[it.event] = true;
      c.purpose = first.purpose;
      c.outcome = p.decision.outcome;
      c.reason = std::string(p.decision.reason);
      c.seq = s.ok() ? seqs[first.pending] : 0;
      c.duplicate = it.duplicate_of != SIZE_MAX;
    }
    out[it.event].recorded.push_back(std::move(c));
  }
  for (size_t k = 0; k < index.size(); ++k) {
    if (run.failed[k]) continue;  // its error is set; earlier purposes stand, as with Record
    if (!s.ok() && in_commit[k]) {
      (*results)[index[k]] = s;
    } else {
      (*results)[index[k]] = std::move(out[k]);
    }
  }
}

}  // namespace consentd::service
