#include "src/erasure/erasure_service.h"

#include <algorithm>
#include <map>
#include <nlohmann/json.hpp>

#include "src/base/bytes.h"
#include "src/base/time_format.h"
#include "src/erasure/certificate.h"
#include "src/identity/normalizer.h"
#include "src/vault/vault.h"

namespace consentd::erasure {
namespace {

using nlohmann::json;
using vault::Stmt;

constexpr size_t kMaxIdentifiers = 32;
constexpr int64_t kFutureSkewMs = 5 * 60 * 1000;
constexpr std::string_view kConcurrent = "erasure: concurrent change of the request";

// Codes, channels and system ids: [a-z0-9][a-z0-9_.:-]{0,63}. They reach
// the ledger, so nothing free-form (and nothing personal) fits.
bool IsCode(std::string_view s) {
  if (s.empty() || s.size() > 64) return false;
  for (size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    bool ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || (i > 0 && (c == '_' || c == '.' || c == ':' || c == '-'));
    if (!ok) return false;
  }
  return true;
}

// Requesters are token names or system ids: kept in the table, never in the
// ledger. Printable ASCII without quotes or backslashes.
bool IsRequester(std::string_view s) {
  if (s.empty() || s.size() > 64) return false;
  for (char c : s) {
    if (c < 0x21 || c > 0x7e || c == '"' || c == '\\') return false;
  }
  return true;
}

bool IsRequestId(std::string_view s) {
  if (s.size() != 19 || s.substr(0, 3) != "er_") return false;
  for (char c : s.substr(3)) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

std::string NewRequestId() { return "er_" + HexEncode(AsBytes(RandomBytes(8))); }

std::string StatusOf(service::DeliveryResult r, const std::string& detail) {
  switch (r) {
    case service::DeliveryResult::kConfirmed:
      return detail.rfind("exception:", 0) == 0 ? "exception" : "confirmed";
    case service::DeliveryResult::kAlreadyDone:
      return "already_done";
    case service::DeliveryResult::kFailed:
      return "failed";
    case service::DeliveryResult::kDiscarded:
      return "discarded";
  }
  return "failed";
}

bool IsDone(const std::string& status) { return status == "confirmed" || status == "already_done"; }

Status RunSql(sqlite3* db, const char* sql, const std::function<void(Stmt&)>& bind) {
  Result<Stmt> st = Stmt::Prepare(db, sql);
  if (!st.ok()) return st.status();
  bind(*st);
  return st->Run();
}

Result<std::string> StateInTxn(sqlite3* db, const std::string& id) {
  Result<Stmt> st = Stmt::Prepare(db, "SELECT state FROM erasure_requests WHERE id = ?");
  if (!st.ok()) return st.status();
  st->BindText(1, id);
  Result<bool> row = st->Step();
  if (!row.ok()) return row.status();
  if (!*row) return Status::NotFound("unknown erasure request " + id);
  return st->Text(0);
}

// Reads the request row at the statement's current row (columns of kSelect).
constexpr const char* kSelect =
    "SELECT id, sid, state, jurisdiction, channel, requester, source_reference, received_ms, first_due, due, "
    "acknowledge_by, extended, extension_reason, reason, created_ms, updated_ms, closed_ms, shredded_ms "
    "FROM erasure_requests";

Result<ErasureRequest> RowToRequest(Stmt& st) {
  ErasureRequest r;
  r.id = st.Text(0);
  Result<domain::Sid> sid = domain::Sid::FromBytes(AsBytes(st.Blob(1)));
  if (!sid.ok()) return Status::Corruption("erasure_requests holds a malformed sid");
  r.sid = *sid;
  std::optional<RequestState> state = ParseState(st.Text(2));
  if (!state) return Status::Corruption("erasure_requests holds an unknown state");
  r.state = *state;
  r.jurisdiction = st.Text(3);
  r.channel = st.Text(4);
  r.requester = st.Text(5);
  r.source_reference = st.Text(6);
  r.received_at_ms = st.Int(7);
  r.first_due = static_cast<DayNumber>(st.Int(8));
  r.due = static_cast<DayNumber>(st.Int(9));
  if (!st.IsNull(10)) r.acknowledge_by = static_cast<DayNumber>(st.Int(10));
  r.extended = st.Int(11) != 0;
  r.extension_reason = st.Text(12);
  r.reason = st.Text(13);
  r.created_ms = st.Int(14);
  r.updated_ms = st.Int(15);
  r.closed_ms = st.Int(16);
  r.shredded_ms = st.Int(17);
  return r;
}


// Runs `sql` with `id` bound to ?1 and calls `row` for each result row.
Status ForEachRowOf(sqlite3* db, const std::string& sql, const std::string& id,
                    const std::function<void(const Stmt&)>& row) {
  Result<Stmt> st = Stmt::Prepare(db, sql);
  if (!st.ok()) return st.status();
  st->BindText(1, id);
  for (;;) {
    Result<bool> more = st->Step();
    if (!more.ok()) return more.status();
    if (!*more) return Status::Ok();
    row(*st);
  }
}

}  // namespace

Status ErasureService::EnsureSchema(sqlite3* db) {
  return vault::Exec(db, R"sql(
CREATE TABLE IF NOT EXISTS erasure_requests(
  id TEXT PRIMARY KEY, sid BLOB NOT NULL, state TEXT NOT NULL, jurisdiction TEXT NOT NULL,
  channel TEXT NOT NULL, requester TEXT NOT NULL, source_reference TEXT NOT NULL,
  received_ms INTEGER NOT NULL, first_due INTEGER NOT NULL, due INTEGER NOT NULL, acknowledge_by INTEGER,
  extended INTEGER NOT NULL DEFAULT 0, extension_reason TEXT NOT NULL DEFAULT '', reason TEXT NOT NULL DEFAULT '',
  created_ms INTEGER NOT NULL, updated_ms INTEGER NOT NULL, closed_ms INTEGER NOT NULL DEFAULT 0,
  shredded_ms INTEGER NOT NULL DEFAULT 0);
CREATE INDEX IF NOT EXISTS erasure_requests_by_due ON erasure_requests(due, id);
CREATE INDEX IF NOT EXISTS erasure_requests_by_sid ON erasure_requests(sid, state);
CREATE INDEX IF NOT EXISTS erasure_requests_by_state ON erasure_requests(state, due);
CREATE TABLE IF NOT EXISTS erasure_systems(
  request_id TEXT NOT NULL, system TEXT NOT NULL, status TEXT NOT NULL, detail TEXT NOT NULL DEFAULT '',
  reference TEXT NOT NULL DEFAULT '', outcome_seq INTEGER NOT NULL DEFAULT 0, time_ms INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY(request_id, system)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS erasure_links(
  duplicate_id TEXT PRIMARY KEY, request_id TEXT NOT NULL, channel TEXT NOT NULL, requester TEXT NOT NULL,
  source_reference TEXT NOT NULL, received_ms INTEGER NOT NULL, seq INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS erasure_links_by_request ON erasure_links(request_id);
CREATE INDEX IF NOT EXISTS erasure_links_by_reference ON erasure_links(channel, source_reference);
CREATE INDEX IF NOT EXISTS erasure_requests_by_reference ON erasure_requests(channel, source_reference);
CREATE TABLE IF NOT EXISTS erasure_entries(
  request_id TEXT NOT NULL, seq INTEGER NOT NULL, kind TEXT NOT NULL, PRIMARY KEY(request_id, seq)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS tombstones(
  bidx BLOB PRIMARY KEY, key_id INTEGER NOT NULL, request_id TEXT NOT NULL, created_ms INTEGER NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS erasure_resends(
  sid BLOB PRIMARY KEY, bidx BLOB NOT NULL, request_id TEXT NOT NULL, system TEXT NOT NULL,
  record_id INTEGER NOT NULL, cause_seq INTEGER NOT NULL, created_ms INTEGER NOT NULL, status TEXT NOT NULL,
  detail TEXT NOT NULL DEFAULT '', outcome_seq INTEGER NOT NULL DEFAULT 0, time_ms INTEGER NOT NULL DEFAULT 0)
  WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS erasure_resends_by_tombstone ON erasure_resends(bidx, system, created_ms);
CREATE INDEX IF NOT EXISTS erasure_resends_by_request ON erasure_resends(request_id, created_ms);
)sql");
}

ErasureService::ErasureService(ledger::Ledger& ledger, identity::SubjectRegistry& subjects,
                               std::shared_ptr<const policies::PolicySet> policy, const Clock& clock,
                               ErasureOptions options, std::unique_ptr<vault::Database> db)
    : ledger_(ledger),
      subjects_(subjects),
      clock_(clock),
      options_(std::move(options)),
      db_(std::move(db)),
      policy_(std::move(policy)) {}

ErasureService::~ErasureService() { Stop(); }

Result<std::unique_ptr<ErasureService>> ErasureService::Open(const std::string& database_path, ledger::Ledger& ledger,
                                                             identity::SubjectRegistry& subjects,
                                                             std::shared_ptr<const policies::PolicySet> policy,
                                                             const Clock& clock, ErasureOptions options) {
  Result<std::vector<ledger::AppendedEntry>> made =
      ledger.Append({}, [](sqlite3* db, std::span<const ledger::AppendedEntry>) { return EnsureSchema(db); });
  if (!made.ok()) return made.status().WithContext("create erasure tables");
  Result<std::unique_ptr<vault::Database>> db = vault::Database::Open(database_path);
  if (!db.ok()) return db.status();
  std::unique_ptr<ErasureService> s(
      new ErasureService(ledger, subjects, std::move(policy), clock, std::move(options), std::move(*db)));
  // Work a previous process left: completions and shreds.
  {
    std::unique_lock<std::mutex> lock = s->db_->Lock();
    Result<Stmt> st = Stmt::Prepare(s->db_->handle(),
                                    "SELECT id FROM erasure_requests WHERE state IN ('verified', 'propagating') OR "
                                    "(state IN ('completed','partially_completed') AND shredded_ms = 0)");
    if (!st.ok()) return st.status();
    for (;;) {
      Result<bool> row = st->Step();
      if (!row.ok()) return row.status();
      if (!*row) break;
      s->ready_.insert(st->Text(0));
    }
  }
  // A re-send whose identifiers were deleted just before a crash may have
  // left WAL frames: the first round checkpoints.
  s->checkpoint_owed_ = true;
  return s;
}

std::mutex& ErasureService::RequestLock(const std::string& id) {
  return request_locks_[std::hash<std::string>()(id) % kStripes];
}

std::mutex& ErasureService::SubjectLock(const domain::Sid& sid) {
  return subject_locks_[std::hash<std::string>()(sid.ToHex()) % kStripes];
}

std::mutex& ErasureService::ReferenceLock(const std::string& channel, const std::string& reference) {
  return reference_locks_[std::hash<std::string>()(channel + '\n' + reference) % kStripes];
}

std::shared_ptr<const policies::PolicySet> ErasureService::policy() const {
  std::lock_guard<std::mutex> l(policy_mu_);
  return policy_;
}

void ErasureService::SetPolicy(std::shared_ptr<const policies::PolicySet> policy) {
  std::lock_guard<std::mutex> l(policy_mu_);
  policy_ = std::move(policy);
}

namespace {

// Appends `entries` of request `id` with the caller's rows, and indexes the
// entries under the request (erasure_entries), in one transaction.
Result<std::vector<ledger::AppendedEntry>> WriteForRequest(
    ledger::Ledger& ledger, const std::string& id, std::vector<ledger::NewEntry> entries,
    const std::function<Status(sqlite3*, std::span<const ledger::AppendedEntry>)>& rows) {
  std::vector<std::string> kinds;
  for (const ledger::NewEntry& e : entries) kinds.push_back(e.kind);
  return ledger.Append(std::move(entries), [&](sqlite3* db, std::span<const ledger::AppendedEntry> appended) {
    Status s = rows ? rows(db, appended) : Status::Ok();
    if (!s.ok()) return s;
    for (size_t i = 0; i < appended.size(); ++i) {
      s = RunSql(db, "INSERT INTO erasure_entries(request_id, seq, kind) VALUES(?, ?, ?)", [&](Stmt& st) {
        st.BindText(1, id).Bind(2, static_cast<int64_t>(appended[i].seq)).BindText(3, kinds[i]);
      });
      if (!s.ok()) return s;
    }
    return Status::Ok();
  });
}

// The rows that start propagation of request `id` (inside the transaction of
// its "erasure.propagating" entry `seq`): one pending progress row per
// system, and the fan-out (one outbox row per system) when there is one.
Status PropagationRows(sqlite3* db, service::FanOut* fan_out, const std::string& id, const domain::Sid& root,
                       const std::vector<std::string>& systems, uint64_t seq, int64_t now) {
  for (const std::string& system : systems) {
    Status s = RunSql(db, "INSERT OR IGNORE INTO erasure_systems(request_id, system, status) VALUES(?, ?, 'pending')",
                      [&](Stmt& st) { st.BindText(1, id).BindText(2, system); });
    if (!s.ok()) return s;
  }
  if (fan_out == nullptr) return Status::Ok();
  service::Change c;
  c.kind = service::ChangeKind::kErasure;
  c.sid = root;
  c.seq = seq;
  c.occurred_at_ms = now;
  c.request_id = id;
  return fan_out->Enqueue(db, c);
}

}  // namespace

// --- filing ---------------------------------------------------------------

Result<service::ErasureIntakeResult> ErasureService::File(const service::ErasureIntakeRequest& in) {
  std::shared_ptr<const policies::PolicySet> pol = policy();
  if (in.identifiers.empty()) return Status::InvalidArgument("/identifiers: at least one identifier is required");
  if (in.identifiers.size() > kMaxIdentifiers) {
    return Status::InvalidArgument("/identifiers: at most " + std::to_string(kMaxIdentifiers) + " identifiers");
  }
  if (!IsCode(in.channel)) return Status::InvalidArgument("/channel: must match [a-z0-9][a-z0-9_.:-]{0,63}");
  if (!IsRequester(in.requester)) return Status::InvalidArgument("/requester: must be 1..64 printable ASCII bytes");
  if (in.source_reference.size() > 128 || !(in.source_reference.empty() || IsRequester(in.source_reference.substr(0, 64)))) {
    return Status::InvalidArgument("/source_reference: must be 1..128 printable ASCII bytes");
  }
  for (char c : in.source_reference) {
    if (c < 0x21 || c > 0x7e || c == '"' || c == '\\') {
      return Status::InvalidArgument("/source_reference: must be 1..128 printable ASCII bytes");
    }
  }
  std::string jid = in.jurisdiction.empty() ? options_.default_jurisdiction : in.jurisdiction;
  if (jid.empty()) {
    // No default configured: GDPR when the policy declares it (the stricter
    // clock), else the policy's only jurisdiction.
    if (pol->FindJurisdiction("gdpr")) {
      jid = "gdpr";
    } else if (pol->jurisdictions.size() == 1) {
      jid = pol->jurisdictions.begin()->first;
    }
  }
  if (jid.empty()) return Status::InvalidArgument("/jurisdiction: is required (the policy names no default)");
  const policies::Jurisdiction* j = pol->FindJurisdiction(jid);
  if (j == nullptr) return Status::InvalidArgument("/jurisdiction: unknown jurisdiction");
  const int64_t now = clock_.NowMillis();
  if (in.received_at_ms <= 0) return Status::InvalidArgument("/received_at: is required");
  if (in.received_at_ms > now + kFutureSkewMs) return Status::InvalidArgument("/received_at: is in the future");
  std::vector<domain::NormalizedIdentifier> normalized;
  for (size_t i = 0; i < in.identifiers.size(); ++i) {
    Result<domain::NormalizedIdentifier> n = identity::Normalize(in.identifiers[i], subjects_.rules());
    if (!n.ok()) return Status::InvalidArgument("/identifiers/" + std::to_string(i) + "/value: " + n.status().message());
    normalized.push_back(std::move(*n));
  }

  // Two deliveries of one source reference (a webhook and its retry) file
  // one after the other; unrelated filings run concurrently.
  std::unique_lock<std::mutex> reference_lock;
  if (!in.source_reference.empty()) {
    reference_lock = std::unique_lock<std::mutex>(ReferenceLock(in.channel, in.source_reference));
  }
  // A replay (a webhook delivered twice, a client retry) returns the first answer.
  if (!in.source_reference.empty()) {
    std::unique_lock<std::mutex> dl = db_->Lock();
    Result<Stmt> st = Stmt::Prepare(db_->handle(),
                                    "SELECT id, 0 FROM erasure_requests WHERE channel = ?1 AND source_reference = ?2 "
                                    "UNION ALL SELECT request_id, seq FROM erasure_links WHERE channel = ?1 AND "
                                    "source_reference = ?2 LIMIT 1");
    if (!st.ok()) return st.status();
    st->BindText(1, in.channel).BindText(2, in.source_reference);
    Result<bool> row = st->Step();
    if (!row.ok()) return row.status();
    if (*row) {
      service::ErasureIntakeResult r;
      r.request_id = st->Text(0);
      r.linked_to_open = st->Int(1) != 0;
      r.seq = static_cast<uint64_t>(st->Int(1));
      return r;
    }
  }

  // Identifiers already erased are not resolved again (that would revive
  // them); a request whose every identifier is erased links to the erasure.
  std::vector<domain::Identifier> live;
  std::string erased_by;
  for (size_t i = 0; i < normalized.size(); ++i) {
    std::optional<std::string> hit;
    {
      std::unique_lock<std::mutex> dl = db_->Lock();
      Result<Stmt> st = db_->Cached("SELECT request_id FROM tombstones WHERE bidx = ?");
      if (!st.ok()) return st.status();
      for (const identity::KeyedBlindIndex& k : subjects_.indexer().All(normalized[i])) {
        st->Bind(1, ByteView(k.bidx.data(), k.bidx.size()));
        Result<bool> row = st->Step();
        if (!row.ok()) return row.status();
        if (*row) {
          hit = st->Text(0);
          break;
        }
        st->Reset();
      }
    }
    if (hit) {
      erased_by = *hit;
    } else {
      live.push_back(in.identifiers[i]);
    }
  }

  auto link_to = [&](const std::string& target, bool open) -> Result<service::ErasureIntakeResult> {
    const std::string dup = NewRequestId();
    json p = {{"request", dup}, {"linked_to", target}, {"channel", in.channel}, {"open", open}};
    uint64_t seq = 0;
    Result<std::vector<ledger::AppendedEntry>> w = WriteForRequest(
        ledger_, target, {{"erasure.linked", p.dump()}},
        [&](sqlite3* db, std::span<const ledger::AppendedEntry> a) {
          seq = a[0].seq;
          return RunSql(db,
                        "INSERT INTO erasure_links(duplicate_id, request_id, channel, requester, source_reference, "
                        "received_ms, seq) VALUES(?, ?, ?, ?, ?, ?, ?)",
                        [&](Stmt& st) {
                          st.BindText(1, dup).BindText(2, target).BindText(3, in.channel).BindText(4, in.requester);
                          st.BindText(5, in.source_reference).Bind(6, in.received_at_ms).Bind(7, static_cast<int64_t>(a[0].seq));
                        });
        });
    if (!w.ok()) return w.status();
    return service::ErasureIntakeResult{target, open, seq};
  };

  if (live.empty()) return link_to(erased_by, false);

  Result<identity::Resolution> res = subjects_.Resolve(live);
  if (!res.ok()) {
    if (res.status().code() == StatusCode::kInvalidArgument) {
      return Status::InvalidArgument("/identifiers: " + res.status().message());
    }
    return res.status();
  }
  if (res->outcome == identity::Resolution::Outcome::kAmbiguous) {
    return Status::FailedPrecondition("/identifiers: the identifiers belong to several subjects; a merge review was "
                                      "queued; file again once it is decided");
  }
  const domain::Sid sid = res->sid;
  // Filings of one subject one at a time: the second sees the first's open
  // request and links to it.
  std::lock_guard<std::mutex> subject_lock(SubjectLock(sid));

  // An open request for the subject takes this one as a duplicate.
  {
    std::unique_lock<std::mutex> dl = db_->Lock();
    Result<Stmt> st = Stmt::Prepare(db_->handle(),
                                    "SELECT id FROM erasure_requests WHERE sid = ? AND state IN "
                                    "('received','verified','propagating') ORDER BY created_ms LIMIT 1");
    if (!st.ok()) return st.status();
    st->Bind(1, sid.bytes());
    Result<bool> row = st->Step();
    if (!row.ok()) return row.status();
    if (*row) {
      std::string open = st->Text(0);
      st->Reset();
      dl.unlock();
      return link_to(open, true);
    }
  }

  const Deadlines d = ComputeDeadlines(*j, in.received_at_ms);
  const std::string id = NewRequestId();
  json received = {{"request", id},
                   {"sid", sid.ToHex()},
                   {"jurisdiction", jid},
                   {"channel", in.channel},
                   {"received_at", FormatTimestampMillis(in.received_at_ms)},
                   {"due", FormatDay(d.due)},
                   {"verified", in.verified}};
  if (d.acknowledge_by) received["acknowledge_by"] = FormatDay(*d.acknowledge_by);
  std::vector<ledger::NewEntry> entries = {{"erasure.received", received.dump()}};
  if (in.verified) entries.push_back({"erasure.verified", json{{"request", id}}.dump()});
  // A verified source propagates at once, in the same transaction as its
  // filing: "erasure.propagating", the progress rows and the fan-out.
  std::vector<std::string> systems;
  for (const auto& [system_id, system] : pol->systems) systems.push_back(system_id);
  service::FanOut* fan_out = fan_out_;
  auto file = [&](bool propagate) -> Result<uint64_t> {
    std::vector<ledger::NewEntry> e = entries;
    if (propagate) {
      e.push_back({"erasure.propagating", json{{"request", id}, {"sid", sid.ToHex()}, {"systems", systems}}.dump()});
    }
    const RequestState state =
        propagate ? RequestState::kPropagating : in.verified ? RequestState::kVerified : RequestState::kReceived;
    uint64_t first_seq = 0;
    Result<std::vector<ledger::AppendedEntry>> w = WriteForRequest(
        ledger_, id, std::move(e), [&](sqlite3* db, std::span<const ledger::AppendedEntry> a) -> Status {
          first_seq = a[0].seq;
          Status s = RunSql(db,
                            "INSERT INTO erasure_requests(id, sid, state, jurisdiction, channel, requester, "
                            "source_reference, received_ms, first_due, due, acknowledge_by, created_ms, updated_ms) "
                            "VALUES(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                            [&](Stmt& st) {
                              st.BindText(1, id).Bind(2, sid.bytes());
                              st.BindText(3, StateName(state));
                              st.BindText(4, jid).BindText(5, in.channel).BindText(6, in.requester);
                              st.BindText(7, in.source_reference).Bind(8, in.received_at_ms);
                              st.Bind(9, static_cast<int64_t>(d.due)).Bind(10, static_cast<int64_t>(d.due));
                              if (d.acknowledge_by) {
                                st.Bind(11, static_cast<int64_t>(*d.acknowledge_by));
                              } else {
                                st.BindNull(11);
                              }
                              st.Bind(12, now).Bind(13, now);
                            });
          if (!s.ok() || !propagate) return s;
          return PropagationRows(db, fan_out, id, sid, systems, a.back().seq, now);
        });
    if (!w.ok()) return w.status();
    return first_seq;
  };
  Result<uint64_t> first_seq = file(in.verified);
  if (in.verified && !first_seq.ok()) {
    // Nothing was stored (a fan-out error rolled it all back): file it
    // verified, and let Verify() or the worker's sweep start propagation.
    first_seq = file(false);
    if (!first_seq.ok()) return first_seq.status();
    Status s = StartPropagation(id);
    if (!s.ok()) return s;
  } else if (!first_seq.ok()) {
    return first_seq.status();
  } else if (in.verified && systems.empty()) {
    Wake(id);  // nothing to wait for: complete at once
  }
  return service::ErasureIntakeResult{id, false, *first_seq};
}

// --- transitions -----------------------------------------------------------

Status ErasureService::Transition(const std::string& id, RequestState to, const std::string& reason) {
  Result<ErasureRequest> r = Get(id);
  if (!r.ok()) return r.status();
  Result<erasure::Transition> t = FindTransition(r->state, to);
  if (!t.ok()) return t.status();
  json p = {{"request", id}};
  if (!reason.empty()) p["reason"] = reason;
  const int64_t now = clock_.NowMillis();
  const std::string from(StateName(r->state));
  Result<std::vector<ledger::AppendedEntry>> w = WriteForRequest(
      ledger_, id, {{std::string(t->entry_kind), p.dump()}}, [&](sqlite3* db, std::span<const ledger::AppendedEntry>) {
        Result<std::string> cur = StateInTxn(db, id);
        if (!cur.ok()) return cur.status();
        if (*cur != from) return Status::Unavailable(std::string(kConcurrent));
        return RunSql(db,
                      "UPDATE erasure_requests SET state = ?, reason = CASE WHEN ? = '' THEN reason ELSE ? END, "
                      "updated_ms = ?, closed_ms = ? WHERE id = ?",
                      [&](Stmt& st) {
                        st.BindText(1, StateName(to)).BindText(2, reason).BindText(3, reason).Bind(4, now);
                        st.Bind(5, IsTerminal(to) ? now : int64_t{0}).BindText(6, id);
                      });
      });
  return w.status();
}

Status ErasureService::Verify(const std::string& id) {
  if (!IsRequestId(id)) return Status::NotFound("unknown erasure request");
  std::lock_guard<std::mutex> lock(RequestLock(id));
  Result<ErasureRequest> r = Get(id);
  if (!r.ok()) return r.status();
  if (r->state == RequestState::kReceived) {
    Status s = Transition(id, RequestState::kVerified, "");
    if (!s.ok()) return s;
  } else if (r->state != RequestState::kVerified) {
    return FindTransition(r->state, RequestState::kVerified).status();
  }
  return StartPropagation(id);
}

Status ErasureService::StartPropagation(const std::string& id) {
  Result<ErasureRequest> r = Get(id);
  if (!r.ok()) return r.status();
  Result<erasure::Transition> t = FindTransition(r->state, RequestState::kPropagating);
  if (!t.ok()) return t.status();
  std::shared_ptr<const policies::PolicySet> pol = policy();
  std::vector<std::string> systems;
  for (const auto& [sid, system] : pol->systems) systems.push_back(sid);
  // The subject as it is now (a merge may have happened since filing).
  domain::Sid root = r->sid;
  Result<identity::SubjectInfo> info = subjects_.Subject(r->sid);
  if (info.ok()) root = info->resolves_to;
  json p = {{"request", id}, {"sid", root.ToHex()}, {"systems", systems}};
  const int64_t now = clock_.NowMillis();
  service::FanOut* fan_out = fan_out_;
  Result<std::vector<ledger::AppendedEntry>> w = WriteForRequest(
      ledger_, id, {{std::string(t->entry_kind), p.dump()}},
      [&](sqlite3* db, std::span<const ledger::AppendedEntry> a) -> Status {
        Result<std::string> cur = StateInTxn(db, id);
        if (!cur.ok()) return cur.status();
        if (*cur != StateName(RequestState::kVerified)) return Status::Unavailable(std::string(kConcurrent));
        Status s = RunSql(db, "UPDATE erasure_requests SET state = 'propagating', updated_ms = ? WHERE id = ?",
                          [&](Stmt& st) { st.Bind(1, now).BindText(2, id); });
        if (!s.ok()) return s;
        return PropagationRows(db, fan_out, id, root, systems, a[0].seq, now);
      });
  if (!w.ok()) return w.status();
  if (systems.empty()) Wake(id);
  return Status::Ok();
}

Status ErasureService::Reject(const std::string& id, const std::string& reason) {
  if (!IsCode(reason)) return Status::InvalidArgument("/reason: a reason code [a-z0-9][a-z0-9_.:-]{0,63} is required");
  if (!IsRequestId(id)) return Status::NotFound("unknown erasure request");
  std::lock_guard<std::mutex> lock(RequestLock(id));
  return Transition(id, RequestState::kRejected, reason);
}

Status ErasureService::Cancel(const std::string& id, const std::string& reason) {
  if (!IsCode(reason)) return Status::InvalidArgument("/reason: a reason code [a-z0-9][a-z0-9_.:-]{0,63} is required");
  if (!IsRequestId(id)) return Status::NotFound("unknown erasure request");
  std::lock_guard<std::mutex> lock(RequestLock(id));
  return Transition(id, RequestState::kCancelled, reason);
}

Status ErasureService::Extend(const std::string& id, const std::string& reason) {
  if (!IsCode(reason)) return Status::InvalidArgument("/reason: a reason code [a-z0-9][a-z0-9_.:-]{0,63} is required");
  if (!IsRequestId(id)) return Status::NotFound("unknown erasure request");
  std::lock_guard<std::mutex> lock(RequestLock(id));
  Result<ErasureRequest> r = Get(id);
  if (!r.ok()) return r.status();
  if (IsTerminal(r->state)) {
    return Status::FailedPrecondition("request is " + std::string(StateName(r->state)) + "; only open requests can be extended");
  }
  if (r->extended) return Status::FailedPrecondition("the deadline was already extended once");
  const int64_t now = clock_.NowMillis();
  if (now >= EndOfDayMillis(r->first_due)) {
    return Status::FailedPrecondition("the first deadline (" + FormatDay(r->first_due) +
                                      ") has passed; an extension must be made before it");
  }
  const policies::Jurisdiction* j = policy()->FindJurisdiction(r->jurisdiction);
  if (j == nullptr) return Status::FailedPrecondition("the request's jurisdiction is no longer in the policy");
  if (!j->extension) return Status::FailedPrecondition("jurisdiction " + j->id + " allows no extension");
  const Deadlines d = ComputeDeadlines(*j, r->received_at_ms);
  const DayNumber due = *d.extended_due;
  json p = {{"request", id}, {"reason", reason}, {"due", FormatDay(due)}};
  Result<std::vector<ledger::AppendedEntry>> w = WriteForRequest(
      ledger_, id, {{"erasure.extended", p.dump()}}, [&](sqlite3* db, std::span<const ledger::AppendedEntry>) {
        return RunSql(db,
                      "UPDATE erasure_requests SET extended = 1, extension_reason = ?, due = ?, updated_ms = ? "
                      "WHERE id = ? AND extended = 0",
                      [&](Stmt& st) {
                        st.BindText(1, reason).Bind(2, static_cast<int64_t>(due)).Bind(3, now).BindText(4, id);
                      });
      });
  return w.status();
}

// --- reads -----------------------------------------------------------------

Result<ErasureRequest> ErasureService::Get(const std::string& id) const {
  if (!IsRequestId(id)) return Status::NotFound("unknown erasure request");
  std::unique_lock<std::mutex> dl = db_->Lock();
  sqlite3* db = db_->handle();
  ErasureRequest r;
  {
    Result<Stmt> st = Stmt::Prepare(db, std::string(kSelect) + " WHERE id = ?");
    if (!st.ok()) return st.status();
    st->BindText(1, id);
    Result<bool> row = st->Step();
    if (!row.ok()) return row.status();
    if (!*row) return Status::NotFound("unknown erasure request " + id);
    Result<ErasureRequest> rr = RowToRequest(*st);
    if (!rr.ok()) return rr.status();
    r = std::move(*rr);
  }
  Status s = ForEachRowOf(db,
                         "SELECT system, status, detail, reference, outcome_seq, time_ms FROM erasure_systems "
                         "WHERE request_id = ? ORDER BY system",
                         id, [&](const Stmt& st) {
                           r.systems.push_back({st.Text(0), st.Text(1), st.Text(2), st.Text(3),
                                                static_cast<uint64_t>(st.Int(4)), st.Int(5)});
                         });
  if (!s.ok()) return s;
  s = ForEachRowOf(db, "SELECT duplicate_id FROM erasure_links WHERE request_id = ? ORDER BY seq", id,
                   [&](const Stmt& st) { r.duplicates.push_back(st.Text(0)); });
  if (!s.ok()) return s;
  s = ForEachRowOf(db,
                   "SELECT system, status, detail, cause_seq, outcome_seq, created_ms, time_ms FROM erasure_resends "
                   "WHERE request_id = ? ORDER BY created_ms, cause_seq",
                   id, [&](const Stmt& st) {
                     r.resends.push_back({st.Text(0), st.Text(1), st.Text(2), static_cast<uint64_t>(st.Int(3)),
                                          static_cast<uint64_t>(st.Int(4)), st.Int(5), st.Int(6)});
                   });
  if (!s.ok()) return s;
  s = ForEachRowOf(db, "SELECT seq, kind FROM erasure_entries WHERE request_id = ? ORDER BY seq", id,
                   [&](const Stmt& st) { r.entries.push_back({static_cast<uint64_t>(st.Int(0)), st.Text(1)}); });
  if (!s.ok()) return s;
  return r;
}

Result<std::vector<ErasureRequest>> ErasureService::List(const ListFilter& f) const {
  std::string sql = "SELECT id FROM erasure_requests WHERE 1 = 1";
  if (f.state) sql += " AND state = ?1";
  if (f.due_before) sql += " AND due <= ?2";
  if (f.overdue) sql += " AND state IN ('received','verified','propagating') AND due < ?3";
  sql += " ORDER BY due, id LIMIT ?4";
  std::vector<std::string> ids;
  {
    std::unique_lock<std::mutex> dl = db_->Lock();
    Result<Stmt> st = Stmt::Prepare(db_->handle(), sql);
    if (!st.ok()) return st.status();
    if (f.state) st->BindText(1, StateName(*f.state));
    if (f.due_before) st->Bind(2, static_cast<int64_t>(*f.due_before));
    // Overdue: the deadline's day ended, i.e. due < today.
    if (f.overdue) st->Bind(3, static_cast<int64_t>(DayOf(clock_.NowMillis())));
    st->Bind(4, static_cast<int64_t>(std::min<size_t>(f.limit, 10000)));
    for (;;) {
      Result<bool> row = st->Step();
      if (!row.ok()) return row.status();
      if (!*row) break;
      ids.push_back(st->Text(0));
    }
  }
  std::vector<ErasureRequest> out;
  for (const std::string& id : ids) {
    Result<ErasureRequest> r = Get(id);
    if (!r.ok()) return r.status();
    out.push_back(std::move(*r));
  }
  return out;
}

Result<ErasureStats> ErasureService::Stats() const {
  ErasureStats s;
  for (RequestState st : {RequestState::kReceived, RequestState::kVerified, RequestState::kRejected,
                          RequestState::kPropagating, RequestState::kCompleted, RequestState::kPartiallyCompleted,
                          RequestState::kCancelled}) {
    s.by_state[std::string(StateName(st))] = 0;
  }
  std::unique_lock<std::mutex> dl = db_->Lock();
  {
    Result<Stmt> st = Stmt::Prepare(db_->handle(), "SELECT state, COUNT(*) FROM erasure_requests GROUP BY state");
    if (!st.ok()) return st.status();
    for (;;) {
      Result<bool> row = st->Step();
      if (!row.ok()) return row.status();
      if (!*row) break;
      s.by_state[st->Text(0)] = static_cast<uint64_t>(st->Int(1));
    }
  }
  {
    Result<Stmt> st = Stmt::Prepare(db_->handle(),
                                    "SELECT COUNT(*) FROM erasure_requests WHERE state IN "
                                    "('received','verified','propagating') AND due < ?");
    if (!st.ok()) return st.status();
    st->Bind(1, static_cast<int64_t>(DayOf(clock_.NowMillis())));
    Result<bool> row = st->Step();
    if (!row.ok()) return row.status();
    s.overdue = static_cast<uint64_t>(st->Int(0));
  }
  {
    Result<Stmt> st = Stmt::Prepare(db_->handle(), "SELECT COUNT(*) FROM tombstones");
    if (!st.ok()) return st.status();
    Result<bool> row = st->Step();
    if (!row.ok()) return row.status();
    s.tombstones = static_cast<uint64_t>(st->Int(0));
  }
  s.blocked = blocked_.load();
  return s;
}

// --- propagation outcomes ----------------------------------------------------

Status ErasureService::OnDeliveryOutcome(sqlite3* db, const service::DeliveryOutcome& o) {
  if (o.kind != service::ChangeKind::kErasure || o.request_id.empty()) return Status::Ok();
  {
    // A re-sent erasure (its pseudonym is the row's sid): record the
    // outcome under the request and delete the sealed identifiers it was
    // delivered with, whatever the outcome (a dead letter is not retried
    // with them). The WAL is checkpointed by the worker's next round.
    Result<Stmt> q = Stmt::Prepare(db, "SELECT request_id FROM erasure_resends WHERE sid = ?");
    if (!q.ok()) return q.status();
    q->Bind(1, o.sid.bytes());
    Result<bool> row = q->Step();
    if (!row.ok()) return row.status();
    if (*row) {
      const std::string request = q->Text(0);
      Status s = RunSql(db,
                        "UPDATE erasure_resends SET status = ?, detail = ?, outcome_seq = ?, time_ms = ? WHERE sid = ? "
                        "AND status = 'pending'",
                        [&](Stmt& st) {
                          st.BindText(1, StatusOf(o.result, o.detail)).BindText(2, o.detail.substr(0, 128));
                          st.Bind(3, static_cast<int64_t>(o.outcome_seq)).Bind(4, o.time_ms).Bind(5, o.sid.bytes());
                        });
      if (!s.ok()) return s;
      s = RunSql(db, "INSERT OR IGNORE INTO erasure_entries(request_id, seq, kind) VALUES(?, ?, ?)", [&](Stmt& st) {
        st.BindText(1, request).Bind(2, static_cast<int64_t>(o.outcome_seq)).BindText(3, "resend:" + o.system);
      });
      if (!s.ok()) return s;
      s = vault::Exec(db, "PRAGMA secure_delete=ON;");
      if (!s.ok()) return s;
      s = vault::Vault::DeleteSubject(db, o.sid);
      if (!s.ok()) return s;
      checkpoint_owed_ = true;
      {
        std::lock_guard<std::mutex> lock(queue_mu_);
        kick_ = true;
      }
      queue_cv_.notify_one();
      return Status::Ok();
    }
  }
  Result<std::string> state = StateInTxn(db, o.request_id);
  if (!state.ok()) {
    // An outcome for a request this database does not know is not ours to
    // fail: the delivery happened either way.
    return state.status().code() == StatusCode::kNotFound ? Status::Ok() : state.status();
  }
  const std::string status = StatusOf(o.result, o.detail);
  // A system the request did not list (the policy changed) is added; an
  // outcome already final is kept (outcomes are final by definition).
  Status s = RunSql(db,
                    "INSERT INTO erasure_systems(request_id, system, status, detail, reference, outcome_seq, time_ms) "
                    "VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7) ON CONFLICT(request_id, system) DO UPDATE SET "
                    "status = ?3, detail = ?4, reference = ?5, outcome_seq = ?6, time_ms = ?7 "
                    "WHERE status IN ('pending', 'deadline_passed')",
                    [&](Stmt& st) {
                      st.BindText(1, o.request_id).BindText(2, o.system).BindText(3, status);
                      st.BindText(4, o.detail.substr(0, 128)).BindText(5, o.reference.substr(0, 128));
                      st.Bind(6, static_cast<int64_t>(o.outcome_seq)).Bind(7, o.time_ms);
                    });
  if (!s.ok()) return s;
  s = RunSql(db, "INSERT OR IGNORE INTO erasure_entries(request_id, seq, kind) VALUES(?, ?, ?)", [&](Stmt& st) {
    st.BindText(1, o.request_id).Bind(2, static_cast<int64_t>(o.outcome_seq)).BindText(3, "outcome:" + o.system);
  });
  if (!s.ok()) return s;
  if (*state == StateName(RequestState::kPropagating)) {
    Result<Stmt> st =
        Stmt::Prepare(db, "SELECT COUNT(*) FROM erasure_systems WHERE request_id = ? AND status = 'pending'");
    if (!st.ok()) return st.status();
    st->BindText(1, o.request_id);
    Result<bool> row = st->Step();
    if (!row.ok()) return row.status();
    // Woken early (before this transaction commits): the worker re-checks
    // inside its own transaction, and its sweep finds what it missed.
    if (st->Int(0) == 0) Wake(o.request_id);
  }
  return Status::Ok();
}

// --- completion and shredding -------------------------------------------------

Result<bool> ErasureService::ProcessOne(const std::string& id, std::optional<domain::Sid>* shred) {
  Result<ErasureRequest> r = Get(id);
  if (!r.ok()) return r.status();
  bool changed = false;
  const int64_t now = clock_.NowMillis();
  domain::Sid root = r->sid;
  Result<identity::SubjectInfo> info = subjects_.Subject(r->sid);
  if (info.ok()) root = info->resolves_to;

  if (r->state == RequestState::kVerified) {
    // A verified source whose propagation did not start (a crash between
    // the two transactions).
    Status s = StartPropagation(id);
    if (!s.ok()) return s;
    return true;
  }
  if (r->state == RequestState::kPropagating) {
    size_t pending = 0;
    bool all_done = true;
    json outcomes = json::object();
    std::vector<std::string> failures, exceptions;
    for (const SystemProgress& p : r->systems) {
      if (p.status == "pending") ++pending;
      all_done = all_done && IsDone(p.status);
      outcomes[p.system] = p.status == "pending" ? "deadline_passed" : p.status;
      if (p.status == "exception") {
        exceptions.push_back(p.system);
      } else if (!IsDone(p.status)) {
        failures.push_back(p.system);
      }
    }
    const bool overdue = now >= EndOfDayMillis(r->due);
    if (pending > 0 && !overdue) return false;
    const RequestState to = all_done ? RequestState::kCompleted : RequestState::kPartiallyCompleted;
    Result<erasure::Transition> t = FindTransition(r->state, to);
    if (!t.ok()) return t.status();
    // How many tombstones the completion writes: recorded in its entry (so
    // that the rebuild check can recount them) and checked in the hook.
    int64_t identifiers = 0;
    {
      std::unique_lock<std::mutex> dl = db_->Lock();
      Result<Stmt> st = Stmt::Prepare(db_->handle(), "SELECT COUNT(*) FROM identity_identifiers WHERE root_sid = ?");
      if (!st.ok()) return st.status();
      st->Bind(1, root.bytes());
      Result<bool> row = st->Step();
      if (!row.ok()) return row.status();
      identifiers = st->Int(0);
    }
    json p = {{"request", id}, {"sid", root.ToHex()}, {"outcomes", outcomes}, {"tombstones", identifiers}};
    if (!failures.empty()) p["failures"] = failures;
    if (!exceptions.empty()) p["exceptions"] = exceptions;
    if (pending > 0) p["deadline_passed"] = true;
    Result<std::vector<ledger::AppendedEntry>> w = WriteForRequest(
        ledger_, id, {{std::string(t->entry_kind), p.dump()}},
        [&](sqlite3* db, std::span<const ledger::AppendedEntry>) -> Status {
          Result<std::string> cur = StateInTxn(db, id);
          if (!cur.ok()) return cur.status();
          if (*cur != StateName(RequestState::kPropagating)) return Status::Unavailable(std::string(kConcurrent));
          Result<Stmt> q =
              Stmt::Prepare(db, "SELECT COUNT(*) FROM erasure_systems WHERE request_id = ? AND status = 'pending'");
          if (!q.ok()) return q.status();
          q->BindText(1, id);
          Result<bool> row = q->Step();
          if (!row.ok()) return row.status();
          if (static_cast<size_t>(q->Int(0)) != pending) return Status::Unavailable(std::string(kConcurrent));
          Status s = RunSql(db,
                            "UPDATE erasure_requests SET state = ?, updated_ms = ?, closed_ms = ? WHERE id = ?",
                            [&](Stmt& st) { st.BindText(1, StateName(to)).Bind(2, now).Bind(3, now).BindText(4, id); });
          if (!s.ok()) return s;
          s = RunSql(db,
                     "UPDATE erasure_systems SET status = 'deadline_passed', time_ms = ? WHERE request_id = ? AND "
                     "status = 'pending'",
                     [&](Stmt& st) { st.Bind(1, now).BindText(2, id); });
          if (!s.ok()) return s;
          // The tombstones: every identifier of the subject (and of subjects
          // merged into it), as its keyed blind index only.
          Result<Stmt> ins = Stmt::Prepare(db,
                                           "INSERT OR IGNORE INTO tombstones(bidx, key_id, request_id, created_ms) "
                                           "SELECT bidx, key_id, ?, ? FROM identity_identifiers WHERE root_sid = ?");
          if (!ins.ok()) return ins.status();
          ins->BindText(1, id).Bind(2, now).Bind(3, root.bytes());
          s = ins->Run();
          if (!s.ok()) return s;
          // A link or shred since the count: plan again.
          if (ins->Changes() != identifiers) return Status::Unavailable(std::string(kConcurrent));
          return Status::Ok();
        });
    if (!w.ok()) {
      if (w.status().message() == kConcurrent) return false;  // an outcome arrived meanwhile: next round
      return w.status();
    }
    changed = true;
    r->state = to;
  }
  if ((r->state == RequestState::kCompleted || r->state == RequestState::kPartiallyCompleted) && r->shredded_ms == 0) {
    *shred = root;
  }
  return changed;
}

Result<size_t> ErasureService::ShredBatch(const std::vector<std::pair<std::string, domain::Sid>>& owed) {
  if (owed.empty()) return size_t{0};
  std::vector<domain::Sid> roots;
  for (const auto& [id, root] : owed) roots.push_back(root);
  // One transaction deletes every subject's key, lookup rows and records
  // (secure_delete on); one wal_checkpoint(TRUNCATE) then copies the zeroed
  // pages into the database file and empties the WAL, whose older frames
  // still held the wrapped keys and sealed values. Only then is a shred
  // reported (invariant 5). Subjects already shredded (a crash after the
  // shred, before its entry) are skipped, so the checkpoint is made here.
  Result<std::vector<identity::ShredReport>> reports = subjects_.ShredMany(roots);
  std::map<domain::Sid, size_t> shredded;
  bool checkpointed = false;
  if (reports.ok()) {
    for (const identity::ShredReport& r : *reports) shredded[r.root] = r.shredded.size();
    checkpointed = !reports->empty();
  } else if (reports.status().code() == StatusCode::kUnavailable) {
    // Shredded, but readers kept the WAL busy through the checkpoint's
    // retries: report nothing; the next round checkpoints before reporting.
    return reports.status();
  } else {
    return reports.status();  // nothing was shredded
  }
  if (!checkpointed) {
    // Shredded in an earlier round (or before a crash) whose checkpoint did
    // not happen: make it now, or report nothing.
    Status cp = subjects_.CheckpointWal();
    if (!cp.ok()) return cp.WithContext("shred committed; WAL checkpoint incomplete, retried next round");
  }
  checkpoint_owed_ = false;  // covers the re-sends' deletions too
  const int64_t now = clock_.NowMillis();
  std::vector<ledger::NewEntry> entries;
  for (const auto& [id, root] : owed) {
    auto it = shredded.find(root);
    json p = {{"request", id}, {"sid", root.ToHex()}, {"subjects", it == shredded.end() ? 0 : it->second}};
    entries.push_back({"erasure.shredded", p.dump()});
  }
  Result<std::vector<ledger::AppendedEntry>> w =
      ledger_.Append(std::move(entries), [&](sqlite3* db, std::span<const ledger::AppendedEntry> a) -> Status {
        for (size_t i = 0; i < owed.size(); ++i) {
          const std::string& id = owed[i].first;
          Status s = RunSql(db,
                            "UPDATE erasure_requests SET shredded_ms = ?, updated_ms = ? WHERE id = ? AND "
                            "shredded_ms = 0",
                            [&](Stmt& st) { st.Bind(1, now).Bind(2, now).BindText(3, id); });
          if (!s.ok()) return s;
          s = RunSql(db, "INSERT INTO erasure_entries(request_id, seq, kind) VALUES(?, ?, 'erasure.shredded')",
                     [&](Stmt& st) { st.BindText(1, id).Bind(2, static_cast<int64_t>(a[i].seq)); });
          if (!s.ok()) return s;
        }
        return Status::Ok();
      });
  if (!w.ok()) return w.status();
  return owed.size();
}

Result<size_t> ErasureService::ProcessReady() {
  std::set<std::string> ids;
  {
    std::lock_guard<std::mutex> q(queue_mu_);
    ids.swap(ready_);
    kick_ = false;
  }
  // The sweep: everything propagating (outcomes missed by a wake-up, or a
  // deadline passed), verified requests not yet started, and shreds owed.
  {
    std::unique_lock<std::mutex> dl = db_->Lock();
    Result<Stmt> st = Stmt::Prepare(db_->handle(),
                                    "SELECT id FROM erasure_requests WHERE state = 'propagating' AND (due < ?1 OR NOT "
                                    "EXISTS (SELECT 1 FROM erasure_systems s WHERE s.request_id = id AND s.status = "
                                    "'pending')) UNION SELECT id FROM erasure_requests WHERE state = 'verified' OR (state IN "
                                    "('completed','partially_completed') AND shredded_ms = 0)");
    if (!st.ok()) return st.status();
    st->Bind(1, static_cast<int64_t>(DayOf(clock_.NowMillis())));
    for (;;) {
      Result<bool> row = st->Step();
      if (!row.ok()) return row.status();
      if (!*row) break;
      ids.insert(st->Text(0));
    }
  }
  size_t changed = 0;
  Status first = Status::Ok();
  std::vector<std::pair<std::string, domain::Sid>> owed;
  auto shred_owed = [&] {
    Result<size_t> n = ShredBatch(owed);
    if (n.ok()) {
      changed += *n;
    } else if (first.ok()) {
      first = n.status();
    }
    owed.clear();
  };
  for (const std::string& id : ids) {
    std::optional<domain::Sid> shred;
    Result<bool> c = [&] {
      std::lock_guard<std::mutex> lock(RequestLock(id));
      return ProcessOne(id, &shred);
    }();
    if (!c.ok()) {
      if (first.ok()) first = c.status().WithContext(id);
      continue;
    }
    // A request counts once, whether it completed, was shredded, or both.
    if (*c && !shred) ++changed;
    if (shred) owed.emplace_back(id, *shred);
    if (owed.size() >= std::max<size_t>(1, options_.shred_batch)) shred_owed();
  }
  shred_owed();
  if (checkpoint_owed_.exchange(false)) {
    Status cp = subjects_.CheckpointWal();
    if (!cp.ok()) checkpoint_owed_ = true;  // the next round retries
  }
  if (!first.ok()) return first;
  return changed;
}

void ErasureService::Wake(const std::string& id) {
  {
    std::lock_guard<std::mutex> q(queue_mu_);
    ready_.insert(id);
  }
  queue_cv_.notify_one();
}

void ErasureService::Start() {
  std::lock_guard<std::mutex> q(queue_mu_);
  if (worker_.joinable()) return;
  stop_ = false;
  worker_ = std::thread([this] { RunWorker(); });
}

void ErasureService::Stop() {
  {
    std::lock_guard<std::mutex> q(queue_mu_);
    stop_ = true;
  }
  queue_cv_.notify_all();
  if (worker_.joinable()) worker_.join();
}

void ErasureService::RunWorker() {
  std::unique_lock<std::mutex> q(queue_mu_);
  while (!stop_) {
    queue_cv_.wait_for(q, options_.worker_interval, [this] { return stop_ || kick_ || !ready_.empty(); });
    if (stop_) break;
    q.unlock();
    // Errors are retried at the next round; the request stays as it was.
    (void)ProcessReady();
    q.lock();
  }
}

// --- tombstones ---------------------------------------------------------------

Result<std::optional<ErasureService::TombstoneHit>> ErasureService::FindTombstone(
    std::span<const domain::NormalizedIdentifier> ids) {
  std::unique_lock<std::mutex> dl = db_->Lock();
  Result<Stmt> st = db_->Cached("SELECT request_id FROM tombstones WHERE bidx = ?");
  if (!st.ok()) return st.status();
  for (size_t i = 0; i < ids.size(); ++i) {
    for (const identity::KeyedBlindIndex& k : subjects_.indexer().All(ids[i])) {
      st->Bind(1, ByteView(k.bidx.data(), k.bidx.size()));
      Result<bool> row = st->Step();
      if (!row.ok()) return row.status();
      if (*row) {
        TombstoneHit hit{i, st->Text(0), std::string(reinterpret_cast<const char*>(k.bidx.data()), k.bidx.size())};
        st->Reset();
        return std::optional<TombstoneHit>(std::move(hit));
      }
      st->Reset();
    }
  }
  return std::optional<TombstoneHit>();
}

namespace {

// True when an erasure was re-sent to `system` for tombstone `bidx` at or
// after `since_ms` (the policy's rate limit).
Result<bool> ResentSince(sqlite3* db, const std::string& bidx, const std::string& system, int64_t since_ms) {
  Result<Stmt> q =
      Stmt::Prepare(db, "SELECT 1 FROM erasure_resends WHERE bidx = ? AND system = ? AND created_ms >= ? LIMIT 1");
  if (!q.ok()) return q.status();
  q->Bind(1, AsBytes(bidx)).BindText(2, system).Bind(3, since_ms);
  return q->Step();
}

// The identifiers of a re-send, as sealed: [[kind, qualifier, value], ...].
std::string IdentifiersPlaintext(std::span<const domain::NormalizedIdentifier> ids) {
  json a = json::array();
  for (const domain::NormalizedIdentifier& id : ids) a.push_back({id.kind.Name(), id.qualifier, id.value});
  return a.dump();
}

}  // namespace

Status ErasureService::Blocked(const TombstoneHit& hit, size_t position, const std::string& system,
                               const std::string& method, bool record,
                               std::span<const domain::NormalizedIdentifier> attempt) {
  const Status refusal = Status::FailedPrecondition("/identifiers/" + std::to_string(position) +
                                                    ": belongs to an erased subject (erasure request " + hit.request +
                                                    "); re-creation is blocked");
  if (!record) return refusal;
  const std::shared_ptr<const policies::PolicySet> pol = policy();
  const policies::TombstonePolicy& rules = pol->tombstones;
  service::FanOut* fan_out = fan_out_;
  // Re-send only to a system of the policy that sent identifiers (the
  // registry's guard knows no source), only as the policy allows.
  bool resend = rules.resend_erasure_on_recreation && fan_out != nullptr && !attempt.empty() && !system.empty() &&
                pol->FindSystem(system) != nullptr;
  std::unique_lock<std::mutex> resend_lock(resend_mu_, std::defer_lock);
  const int64_t now = clock_.NowMillis();
  const int64_t since = now - rules.resend_min_interval_ms;
  if (resend) {
    resend_lock.lock();
    std::unique_lock<std::mutex> dl = db_->Lock();
    Result<bool> recent = ResentSince(db_->handle(), hit.bidx, system, since);
    if (!recent.ok()) return recent.status();
    resend = !*recent;
  }
  json p = {{"request", hit.request}, {"source_system", system}, {"method", method}};
  if (resend) p["resend"] = true;
  // The re-send's pseudonym and the attempt's identifiers, sealed under a
  // data key of its own (deleted with its row at the delivery's outcome).
  const domain::Sid ghost = domain::Sid::Random();
  vault::NewSubjectKey key;
  vault::SealedRecord sealed;
  if (resend) {
    key = subjects_.vault().MakeSubjectKey(ghost);
    Result<vault::SealedRecord> rec =
        vault::Vault::SealRecordWith(key.key, ghost, "erasure.resend", IdentifiersPlaintext(attempt));
    if (!rec.ok()) return rec.status();
    sealed = std::move(*rec);
  }
  Result<std::vector<ledger::AppendedEntry>> w = WriteForRequest(
      ledger_, hit.request, {{"erasure.recreation_blocked", p.dump()}},
      !resend ? std::function<Status(sqlite3*, std::span<const ledger::AppendedEntry>)>()
              : [&](sqlite3* db, std::span<const ledger::AppendedEntry> a) -> Status {
                  // Another process (consentctl import) may have re-sent meanwhile.
                  Result<bool> recent = ResentSince(db, hit.bidx, system, since);
                  if (!recent.ok()) return recent.status();
                  if (*recent) return Status::Unavailable("erasure: re-sent concurrently; retry");
                  Status s = vault::Vault::InsertSubjectKey(db, key);
                  if (!s.ok()) return s;
                  Result<int64_t> record = vault::Vault::InsertRecord(db, ghost, sealed, now);
                  if (!record.ok()) return record.status();
                  s = RunSql(db,
                             "INSERT INTO erasure_resends(sid, bidx, request_id, system, record_id, cause_seq, "
                             "created_ms, status) VALUES(?, ?, ?, ?, ?, ?, ?, 'pending')",
                             [&](Stmt& st) {
                               st.Bind(1, ghost.bytes()).Bind(2, AsBytes(hit.bidx)).BindText(3, hit.request);
                               st.BindText(4, system).Bind(5, *record).Bind(6, static_cast<int64_t>(a[0].seq));
                               st.Bind(7, now);
                             });
                  if (!s.ok()) return s;
                  service::Change c;
                  c.kind = service::ChangeKind::kErasure;
                  c.sid = ghost;
                  c.seq = a[0].seq;
                  c.occurred_at_ms = now;
                  c.request_id = hit.request;
                  c.target_system = system;  // that system only: the others hold nothing new
                  return fan_out->Enqueue(db, c);
                });
  if (!w.ok()) return w.status();
  blocked_.fetch_add(1);
  return refusal;
}

Status ErasureService::Check(std::span<const domain::Identifier> identifiers, const domain::ConsentSource& source) {
  std::vector<domain::NormalizedIdentifier> ids;
  std::vector<size_t> position;
  for (size_t i = 0; i < identifiers.size(); ++i) {
    Result<domain::NormalizedIdentifier> n = identity::Normalize(identifiers[i], subjects_.rules());
    if (!n.ok()) continue;  // the resolver reports it
    ids.push_back(std::move(*n));
    position.push_back(i);
  }
  Result<std::optional<TombstoneHit>> hit = FindTombstone(ids);
  if (!hit.ok()) return hit.status();
  if (!*hit) return Status::Ok();
  return Blocked(**hit, position[(*hit)->position], source.system,
                 std::string(domain::ConsentMethodName(source.method)), true, ids);
}

Status ErasureService::CheckNormalized(std::span<const domain::NormalizedIdentifier> identifiers, bool record) {
  Result<std::optional<TombstoneHit>> hit = FindTombstone(identifiers);
  if (!hit.ok()) return hit.status();
  if (!*hit) return Status::Ok();
  return Blocked(**hit, (*hit)->position, "", "identity", record, {});
}

void ErasureService::InstallRegistryGuard() {
  subjects_.SetCreationGuard([this](std::span<const domain::NormalizedIdentifier> ids, bool record) {
    return CheckNormalized(ids, record);
  });
}

Result<size_t> ErasureService::LiftTombstones(std::span<const domain::Identifier> identifiers,
                                              const LiftEvidence& evidence) {
  const policies::TombstoneLiftRules lift = policy()->tombstones.lift;
  if (!lift.allowed) {
    return Status::FailedPrecondition("the policy does not allow lifting tombstones (tombstones.lift.allowed is false)");
  }
  if (!lift.AllowsSource(evidence.method)) {
    std::string names;
    for (domain::ConsentMethod m : lift.allowed_sources) {
      names += (names.empty() ? "" : ", ") + std::string(domain::ConsentMethodName(m));
    }
    return Status::FailedPrecondition("/method: " + std::string(domain::ConsentMethodName(evidence.method)) +
                                      " may not lift a tombstone; the policy allows " + names);
  }
  if (lift.require_evidence && evidence.evidence_ref.empty()) {
    return Status::InvalidArgument("/evidence_ref: the evidence of the opt-in is required (a record or notice id)");
  }
  if (!evidence.evidence_ref.empty() && !IsCode(evidence.evidence_ref)) {
    return Status::InvalidArgument("/evidence_ref: must match [a-z0-9][a-z0-9_.:-]{0,63} (a record or notice id)");
  }
  if (evidence.occurred_at_ms > clock_.NowMillis() + kFutureSkewMs) {
    return Status::InvalidArgument("/occurred_at: is in the future");
  }
  if (identifiers.empty()) return Status::InvalidArgument("/identifiers: at least one identifier is required");
  constexpr int64_t kDayMs = 86'400'000;
  std::vector<std::pair<identity::BlindIndex, std::string>> found;  // bidx, request
  for (size_t i = 0; i < identifiers.size(); ++i) {
    Result<domain::NormalizedIdentifier> n = identity::Normalize(identifiers[i], subjects_.rules());
    if (!n.ok()) return Status::InvalidArgument("/identifiers/" + std::to_string(i) + "/value: " + n.status().message());
    std::unique_lock<std::mutex> dl = db_->Lock();
    Result<Stmt> st = db_->Cached("SELECT request_id, created_ms FROM tombstones WHERE bidx = ?");
    if (!st.ok()) return st.status();
    for (const identity::KeyedBlindIndex& k : subjects_.indexer().All(*n)) {
      st->Bind(1, ByteView(k.bidx.data(), k.bidx.size()));
      Result<bool> row = st->Step();
      if (!row.ok()) return row.status();
      if (*row) {
        const int64_t erased_ms = st->Int(1);
        if (evidence.occurred_at_ms <= erased_ms) {
          st->Reset();
          return Status::FailedPrecondition("/occurred_at: the opt-in must be dated after the erasure");
        }
        if (evidence.occurred_at_ms < erased_ms + lift.min_days_after_erasure * kDayMs) {
          st->Reset();
          return Status::FailedPrecondition("/occurred_at: the opt-in must be dated at least " +
                                            std::to_string(lift.min_days_after_erasure) +
                                            " days after the erasure (tombstones.lift.min_days_after_erasure)");
        }
        found.emplace_back(k.bidx, st->Text(0));
      }
      st->Reset();
    }
  }
  if (found.empty()) return size_t{0};
  const std::string request = found.front().second;
  json p = {{"request", request},
            {"tombstones", found.size()},
            {"method", std::string(domain::ConsentMethodName(evidence.method))},
            {"occurred_at", FormatTimestampMillis(evidence.occurred_at_ms)},
            {"evidence", evidence.evidence_ref}};
  size_t removed = 0;
  Result<std::vector<ledger::AppendedEntry>> w = WriteForRequest(
      ledger_, request, {{"tombstone.lifted", p.dump()}}, [&](sqlite3* db, std::span<const ledger::AppendedEntry>) {
        removed = 0;
        for (const auto& [bidx, req] : found) {
          Result<Stmt> del = Stmt::Prepare(db, "DELETE FROM tombstones WHERE bidx = ?");
          if (!del.ok()) return del.status();
          del->Bind(1, ByteView(bidx.data(), bidx.size()));
          Status s = del->Run();
          if (!s.ok()) return s;
          removed += static_cast<size_t>(del->Changes());
        }
        // Lifted concurrently by another caller: nothing to record.
        return removed == 0 ? Status::NotFound("tombstones already lifted") : Status::Ok();
      });
  if (!w.ok()) return w.status().code() == StatusCode::kNotFound ? Result<size_t>(size_t{0}) : Result<size_t>(w.status());
  return found.size();
}

Result<std::vector<domain::NormalizedIdentifier>> ErasureService::ResendIdentifiers(const domain::Sid& sid) const {
  int64_t record = 0;
  {
    std::unique_lock<std::mutex> dl = db_->Lock();
    Result<Stmt> st = db_->Cached("SELECT record_id FROM erasure_resends WHERE sid = ? AND status = 'pending'");
    if (!st.ok()) return st.status();
    st->Bind(1, sid.bytes());
    Result<bool> row = st->Step();
    if (!row.ok()) return row.status();
    if (!*row) {
      st->Reset();
      return Status::NotFound("not a pending re-sent erasure");
    }
    record = st->Int(0);
    st->Reset();
  }
  Result<std::string> plain = subjects_.vault().OpenRecord(record);
  if (!plain.ok()) return plain.status();
  json a = json::parse(*plain, nullptr, /*allow_exceptions=*/false);
  if (!a.is_array()) return Status::Corruption("re-sent erasure record is malformed");
  std::vector<domain::NormalizedIdentifier> out;
  for (const json& e : a) {
    if (!e.is_array() || e.size() != 3 || !e[0].is_string() || !e[1].is_string() || !e[2].is_string()) {
      return Status::Corruption("re-sent erasure record is malformed");
    }
    Result<domain::IdentifierKind> kind = domain::IdentifierKind::Parse(e[0].get<std::string>());
    if (!kind.ok()) return Status::Corruption("re-sent erasure record names an unknown kind");
    out.push_back(domain::NormalizedIdentifier{*kind, e[1].get<std::string>(), e[2].get<std::string>()});
  }
  return out;
}

// --- certificates -----------------------------------------------------------------

Result<std::string> ErasureService::Certificate(const std::string& id, const ledger::Signer& signer) {
  Result<ErasureRequest> r = Get(id);
  if (!r.ok()) return r.status();
  if (r->state != RequestState::kCompleted && r->state != RequestState::kPartiallyCompleted) {
    return Status::FailedPrecondition("request is " + std::string(StateName(r->state)) +
                                      "; certificates exist for completed and partially completed requests");
  }
  if (r->shredded_ms == 0) return Status::FailedPrecondition("the subject is not shredded yet; try again shortly");
  uint64_t max_seq = 0;
  for (const EntryRef& e : r->entries) max_seq = std::max(max_seq, e.seq);
  Result<ledger::StoredCheckpoint> cp = ledger_.LatestCheckpoint();
  if (!cp.ok() || cp->checkpoint.size <= max_seq) cp = ledger_.SignCheckpoint();
  if (!cp.ok()) return cp.status().WithContext("sign a checkpoint covering the request");
  return BuildCertificate(*r, ledger_, *cp, signer, clock_.NowMillis());
}

}  // namespace consentd::erasure
