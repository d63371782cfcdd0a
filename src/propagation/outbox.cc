#include "src/propagation/outbox.h"

#include <algorithm>
#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <sqlite3.h>

namespace consentd::propagation {
namespace {

using vault::Stmt;

constexpr const char* kSchema = R"sql(
CREATE TABLE IF NOT EXISTS outbox(
  id INTEGER PRIMARY KEY,
  system TEXT NOT NULL,
  sid BLOB NOT NULL,
  kind TEXT NOT NULL,
  cause_seq INTEGER NOT NULL,
  purpose TEXT NOT NULL DEFAULT '',
  decision INTEGER NOT NULL DEFAULT 0,
  occurred_at_ms INTEGER NOT NULL DEFAULT 0,
  request_id TEXT NOT NULL DEFAULT '',
  idempotency_key TEXT NOT NULL,
  state TEXT NOT NULL,
  attempts INTEGER NOT NULL DEFAULT 0,
  polls INTEGER NOT NULL DEFAULT 0,
  next_attempt_ms INTEGER NOT NULL,
  created_ms INTEGER NOT NULL,
  updated_ms INTEGER NOT NULL,
  acked_ms INTEGER NOT NULL DEFAULT 0,
  last_status INTEGER NOT NULL DEFAULT 0,
  last_code TEXT NOT NULL DEFAULT '',
  reference TEXT NOT NULL DEFAULT '',
  result TEXT NOT NULL DEFAULT '',
  outcome_seq INTEGER NOT NULL DEFAULT 0
);
-- A row's id is OutboxRowId(cause_seq, the system's number): one row per
-- (cause, system) is the primary key's own guarantee, and ids grow with the
-- cause, so ordering by id orders one subject's rows for one system by
-- their changes. It replaced a UNIQUE index (cause_seq, system), one more
-- B-tree insert per row (docs/benchmarks.md, "Import (eighth session)").
-- Rows written before keep their sequential ids, all below every new id
-- (OutboxRowId). Systems are numbered once, in the order they are first
-- sent a row, and never renumbered.
DROP INDEX IF EXISTS outbox_cause;
CREATE TABLE IF NOT EXISTS outbox_system_numbers(
  no     INTEGER PRIMARY KEY,       -- 1 .. kMaxOutboxSystems
  system TEXT NOT NULL UNIQUE
);
-- Open rows (pending, in_flight, accepted): the next eligible row per
-- system, and per (system, subject).
CREATE INDEX IF NOT EXISTS outbox_open_by_system ON outbox(system, id)
  WHERE (state = 'pending' OR state = 'in_flight' OR state = 'accepted');
CREATE INDEX IF NOT EXISTS outbox_open_by_subject ON outbox(system, sid, id)
  WHERE (state = 'pending' OR state = 'in_flight' OR state = 'accepted');
-- Rows a dispatcher has touched (every state but pending): dead letters,
-- in-flight resets and state lists for operators; and closed rows (done,
-- dead, discarded) per subject, for echo detection and replays. Every new
-- row is pending, so it enters neither: an import writes ~1.5 rows per
-- event, and each index a row enters is one more B-tree insert.
CREATE INDEX IF NOT EXISTS outbox_touched_by_state ON outbox(state, system, id)
  WHERE state != 'pending';
CREATE INDEX IF NOT EXISTS outbox_closed_by_subject ON outbox(system, sid, id)
  WHERE (state = 'done' OR state = 'dead' OR state = 'discarded');
-- The WHERE terms are comparisons, never IN lists: SQLite evaluates a
-- partial index's WHERE on every insert, and an IN list of more than two
-- constants builds a temporary B-tree of the list each time a statement
-- runs (two such indexes cost more than the rest of a row's insert). A
-- query repeats an index's WHERE term word for word, or SQLite does not use
-- the index.
--
-- Older data directories have indexes that these replace (full indexes by
-- state and by subject, and IN-list partial ones). Dropping them (the new
-- ones are built by their CREATE from the rows there) is the whole
-- migration; the runtime runs this schema at every start.
DROP INDEX IF EXISTS outbox_open;
DROP INDEX IF EXISTS outbox_open_subject;
DROP INDEX IF EXISTS outbox_state;
DROP INDEX IF EXISTS outbox_subject;
DROP INDEX IF EXISTS outbox_touched;
DROP INDEX IF EXISTS outbox_closed_subject;
CREATE TABLE IF NOT EXISTS propagation_systems(
  system TEXT PRIMARY KEY,
  paused INTEGER NOT NULL DEFAULT 0,
  paused_ms INTEGER NOT NULL DEFAULT 0,
  updated_ms INTEGER NOT NULL
);
)sql";

constexpr const char* kColumns =
    "id, system, sid, kind, cause_seq, purpose, decision, occurred_at_ms, request_id, idempotency_key, state, "
    "attempts, polls, next_attempt_ms, created_ms, updated_ms, acked_ms, last_status, last_code, reference, result, "
    "outcome_seq";

Result<OutboxRow> RowFrom(const Stmt& s) {
  OutboxRow r;
  r.id = s.Int(0);
  r.system = s.Text(1);
  Result<domain::Sid> sid = domain::Sid::FromBytes(AsBytes(s.Blob(2)));
  if (!sid.ok()) return Status::Corruption("outbox row " + std::to_string(r.id) + ": bad sid");
  r.sid = *sid;
  std::optional<service::ChangeKind> kind = ParseChangeKind(s.Text(3));
  if (!kind) return Status::Corruption("outbox row " + std::to_string(r.id) + ": bad kind");
  r.kind = *kind;
  r.cause_seq = static_cast<uint64_t>(s.Int(4));
  r.purpose = s.Text(5);
  r.decision = s.Int(6) ? domain::Decision::kGranted : domain::Decision::kWithdrawn;
  r.occurred_at_ms = s.Int(7);
  r.request_id = s.Text(8);
  r.idempotency_key = s.Text(9);
  std::optional<RowState> state = ParseRowState(s.Text(10));
  if (!state) return Status::Corruption("outbox row " + std::to_string(r.id) + ": bad state");
  r.state = *state;
  r.attempts = static_cast<int32_t>(s.Int(11));
  r.polls = static_cast<int32_t>(s.Int(12));
  r.next_attempt_ms = s.Int(13);
  r.created_ms = s.Int(14);
  r.updated_ms = s.Int(15);
  r.acked_ms = s.Int(16);
  r.last_status = static_cast<int32_t>(s.Int(17));
  r.last_code = s.Text(18);
  r.reference = s.Text(19);
  r.result = s.Text(20);
  r.outcome_seq = static_cast<uint64_t>(s.Int(21));
  return r;
}

// True when a later consent row of the same subject, system and purpose
// exists (not discarded): replaying `row` would deliver an older decision
// after a newer one.
Result<bool> Superseded(sqlite3* db, const OutboxRow& row) {
  if (row.kind != service::ChangeKind::kConsent) return false;
  // Open rows, then closed ones: each half through its partial index.
  Result<Stmt> q = Stmt::Prepare(
      db,
      "SELECT 1 FROM outbox WHERE system = ?1 AND sid = ?2 AND kind = 'consent' AND purpose = ?3 AND id > ?4"
      " AND (state = 'pending' OR state = 'in_flight' OR state = 'accepted')"
      " UNION ALL SELECT 1 FROM outbox WHERE system = ?1 AND sid = ?2 AND kind = 'consent' AND purpose = ?3"
      " AND id > ?4 AND (state = 'done' OR state = 'dead' OR state = 'discarded') AND state != 'discarded' LIMIT 1");
  if (!q.ok()) return q.status();
  q->BindText(1, row.system).Bind(2, row.sid.bytes()).BindText(3, row.purpose).Bind(4, row.id);
  Result<bool> found = q->Step();
  if (!found.ok()) return found.status();
  return *found;
}

Status ReplayRow(sqlite3* db, const OutboxRow& row, int64_t now) {
  Result<Stmt> u = Stmt::Prepare(db,
                                 "UPDATE outbox SET state = 'pending', attempts = 0, polls = 0, next_attempt_ms = ?,"
                                 " updated_ms = ?, result = '', outcome_seq = 0 WHERE id = ? AND state = 'dead'");
  if (!u.ok()) return u.status();
  u->Bind(1, now).Bind(2, now).Bind(3, row.id);
  Status s = u->Run();
  if (!s.ok()) return s;
  if (u->Changes() != 1) return Status::FailedPrecondition("outbox row " + std::to_string(row.id) + " is not dead");
  return Status::Ok();
}

}  // namespace

std::string OutcomePayload(const OutboxRow& row, service::DeliveryResult result, const AttemptNote& note) {
  nlohmann::json j = nlohmann::json::object();
  j["outbox_id"] = row.id;
  j["system"] = row.system;
  j["op"] = std::string(OperationName(row.kind));
  j["result"] = std::string(DeliveryResultName(result));
  j["cause_seq"] = row.cause_seq;
  j["sid"] = row.sid.ToHex();
  if (row.kind == service::ChangeKind::kConsent) {
    j["purpose"] = row.purpose;
    j["decision"] = row.decision == domain::Decision::kGranted ? "granted" : "withdrawn";
  }
  if (!row.request_id.empty()) j["request"] = row.request_id;
  std::string ref = SanitizeReference(note.reference.empty() ? row.reference : note.reference);
  if (!ref.empty()) j["reference"] = ref;
  j["code"] = SanitizeCode(note.code);
  if (note.http_status > 0) j["http_status"] = note.http_status;
  j["attempts"] = row.attempts;
  return j.dump();
}

Status Outbox::EnsureSchema(sqlite3* db) { return vault::Exec(db, kSchema); }

Result<std::unique_ptr<Outbox>> Outbox::Open(const std::string& db_path, vault::LedgerWriter& writer, PolicyFn policy,
                                             const Clock& clock) {
  Result<std::unique_ptr<vault::Database>> db = vault::Database::Open(db_path);
  if (!db.ok()) return db.status();
  return std::unique_ptr<Outbox>(new Outbox(std::move(*db), writer, std::move(policy), clock));
}

Status Outbox::Enqueue(sqlite3* db, const service::Change& change) {
  return EnqueueMany(db, std::span<const service::Change>(&change, 1));
}

// The stable numbers of systems (outbox_system_numbers), read with one
// statement at the first Of; a system without one is given the next number
// in the caller's transaction. Lives for one EnqueueMany: a number given in
// a transaction that rolls back is given again, so none is kept longer.
class SystemNumbers {
 public:
  explicit SystemNumbers(sqlite3* db) : db_(db) {}

  Result<int64_t> Of(const std::string& system) {
    if (!loaded_) {
      Result<Stmt> q = Stmt::Prepare(db_, "SELECT system, no FROM outbox_system_numbers");
      if (!q.ok()) return q.status();
      for (;;) {
        Result<bool> row = q->Step();
        if (!row.ok()) return row.status();
        if (!*row) break;
        numbers_.emplace(q->Text(0), q->Int(1));
        largest_ = std::max(largest_, q->Int(1));
      }
      loaded_ = true;
    }
    auto it = numbers_.find(system);
    if (it != numbers_.end()) return it->second;
    const int64_t no = largest_ + 1;
    if (no > kMaxOutboxSystems) {
      return Status::FailedPrecondition("outbox: more than " + std::to_string(kMaxOutboxSystems) +
                                        " systems were ever sent rows");
    }
    Result<Stmt> ins = Stmt::Prepare(db_, "INSERT INTO outbox_system_numbers(no, system) VALUES (?, ?)");
    if (!ins.ok()) return ins.status();
    ins->Bind(1, no).BindText(2, system);
    Status s = ins->Run();
    if (!s.ok()) return s;
    numbers_.emplace(system, no);
    largest_ = no;
    return no;
  }

 private:
  sqlite3* const db_;
  bool loaded_ = false;
  int64_t largest_ = 0;
  std::map<std::string, int64_t> numbers_;
};

int64_t OutboxRowId(uint64_t cause_seq, int64_t system_number) {
  return static_cast<int64_t>(cause_seq) * (kMaxOutboxSystems + 1) + system_number;
}

Status Outbox::EnqueueMany(sqlite3* db, std::span<const service::Change> changes) {
  for (const service::Change& change : changes) {
    if (change.sid.IsZero()) return Status::InvalidArgument("fan-out: no subject");
    if (change.kind == service::ChangeKind::kConsent && change.purpose.empty()) {
      return Status::InvalidArgument("fan-out: consent change without a purpose");
    }
  }
  std::shared_ptr<const policies::PolicySet> policy = policy_ ? policy_() : nullptr;
  if (!policy || changes.empty()) return Status::Ok();
  // One row per (change, target system), routed as Enqueue routes one.
  struct Row {
    int64_t id;  // OutboxRowId(change->seq, the system's number)
    const policies::System* target;
    const service::Change* change;
  };
  std::vector<Row> rows;
  rows.reserve(changes.size() * 2);
  SystemNumbers numbers(db);
  for (const service::Change& change : changes) {
    if (change.seq > kMaxOutboxCauseSeq) {
      return Status::InvalidArgument("fan-out: cause seq out of range");
    }
    for (const auto& [id, system] : policy->systems) {
      if (change.kind == service::ChangeKind::kConsent) {
        if (!system.Receives(change.purpose) || id == change.origin_system) continue;
      }
      if (!change.target_system.empty() && id != change.target_system) continue;
      Result<int64_t> no = numbers.Of(id);
      if (!no.ok()) return no.status().WithContext("outbox system number");
      rows.push_back({OutboxRowId(change.seq, *no), &system, &change});
    }
  }
  if (rows.empty()) return Status::Ok();
  // Inserted in id order: the table grows at its end, and so do the open
  // rows' indexes (system, id) and, for new subjects (time-ordered sids),
  // (system, sid, id). Inserted by system and subject instead, the ids of a
  // batch landed all over its range of the table.
  if (changes.size() > 1) {
    std::sort(rows.begin(), rows.end(), [](const Row& a, const Row& b) { return a.id < b.id; });
  }
  Result<Stmt> ins = Stmt::Prepare(
      db,
      "INSERT INTO outbox(id, system, sid, kind, cause_seq, purpose, decision, occurred_at_ms, request_id,"
      " idempotency_key, state, next_attempt_ms, created_ms, updated_ms)"
      " VALUES (?13, ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, 'pending', ?10, ?11, ?12) ON CONFLICT(id) DO NOTHING");
  if (!ins.ok()) return ins.status();
  const int64_t now = clock_.NowMillis();
  for (const Row& row : rows) {
    const service::Change& change = *row.change;
    ins->BindText(1, row.target->id)
        .Bind(2, change.sid.bytes())
        .BindText(3, ChangeKindName(change.kind))
        .Bind(4, static_cast<int64_t>(change.seq))
        .BindText(5, change.kind == service::ChangeKind::kConsent ? change.purpose : "")
        .Bind(6, change.decision == domain::Decision::kGranted ? 1 : 0)
        .Bind(7, change.occurred_at_ms)
        .BindText(8, change.request_id)
        .BindText(9, IdempotencyKey(change.seq, row.target->id))
        .Bind(10, now)
        .Bind(11, now)
        .Bind(12, now)
        .Bind(13, row.id);
    Status s = ins->Run();
    ins->Reset();
    if (!s.ok()) return s.WithContext("outbox insert");
    if (sqlite3_changes(db) == 0) {
      // The id is taken: by this very change (enqueued again: nothing to
      // do), or by another row, which would lose this one silently.
      Result<Stmt> q = Stmt::Prepare(db, "SELECT cause_seq, system FROM outbox WHERE id = ?");
      if (!q.ok()) return q.status();
      q->Bind(1, row.id);
      Result<bool> found = q->Step();
      if (!found.ok()) return found.status();
      if (!*found || static_cast<uint64_t>(q->Int(0)) != change.seq || q->Text(1) != row.target->id) {
        return Status::Internal("outbox: row id " + std::to_string(row.id) + " is held by another change");
      }
    }
  }
  if (observer_) observer_();
  return Status::Ok();
}

Result<std::vector<OutboxRow>> Outbox::Query(const std::string& sql, const std::function<void(Stmt&)>& bind) {
  auto lock = db_->Lock();
  Result<Stmt> q = Stmt::Prepare(db_->handle(), sql);
  if (!q.ok()) return q.status();
  bind(*q);
  std::vector<OutboxRow> out;
  for (;;) {
    Result<bool> row = q->Step();
    if (!row.ok()) return row.status();
    if (!*row) break;
    Result<OutboxRow> r = RowFrom(*q);
    if (!r.ok()) return r.status();
    out.push_back(std::move(*r));
  }
  return out;
}

Result<OutboxRow> Outbox::Get(int64_t id) {
  Result<std::vector<OutboxRow>> rows =
      Query(std::string("SELECT ") + kColumns + " FROM outbox WHERE id = ?", [id](Stmt& s) { s.Bind(1, id); });
  if (!rows.ok()) return rows.status();
  if (rows->empty()) return Status::NotFound("no outbox row " + std::to_string(id));
  return std::move(rows->front());
}

Result<std::vector<OutboxRow>> Outbox::List(const ListFilter& f) {
  std::string sql = std::string("SELECT ") + kColumns + " FROM outbox WHERE id > ?";
  if (f.state) {
    // The term that lets SQLite use the partial index holding the state.
    sql += *f.state == RowState::kPending ? " AND (state = 'pending' OR state = 'in_flight' OR state = 'accepted')"
                                          : " AND state != 'pending'";
    sql += " AND state = ?";
  }
  if (!f.system.empty()) sql += " AND system = ?";
  sql += " ORDER BY id LIMIT ?";
  return Query(sql, [&f](Stmt& s) {
    int i = 1;
    s.Bind(i++, f.after_id);
    if (f.state) s.BindText(i++, RowStateName(*f.state));
    if (!f.system.empty()) s.BindText(i++, f.system);
    s.Bind(i++, static_cast<int64_t>(f.limit));
  });
}

Result<bool> Outbox::IsPaused(const std::string& system) {
  auto lock = db_->Lock();
  Result<Stmt> q = db_->Cached("SELECT paused FROM propagation_systems WHERE system = ?");
  if (!q.ok()) return q.status();
  q->BindText(1, system);
  Result<bool> row = q->Step();
  if (!row.ok()) return row.status();
  return *row && q->Int(0) != 0;
}

Result<bool> Outbox::IsEcho(const std::string& system, const domain::Sid& sid, const std::string& purpose,
                            domain::Decision decision) {
  auto lock = db_->Lock();
  Result<Stmt> last = db_->Cached(
      "SELECT id, decision FROM outbox WHERE system = ? AND sid = ? AND kind = 'consent' AND purpose = ?"
      " AND (state = 'done' OR state = 'dead' OR state = 'discarded') AND state = 'done' ORDER BY id DESC LIMIT 1");
  if (!last.ok()) return last.status();
  last->BindText(1, system).Bind(2, sid.bytes()).BindText(3, purpose);
  Result<bool> found = last->Step();
  if (!found.ok()) return found.status();
  if (!*found) return false;
  const int64_t last_id = last->Int(0);
  const bool last_granted = last->Int(1) != 0;
  last->Reset();
  if (last_granted != (decision == domain::Decision::kGranted)) return false;
  Result<Stmt> newer = db_->Cached(
      "SELECT 1 FROM outbox WHERE system = ? AND sid = ? AND id > ? AND kind = 'consent' AND purpose = ?"
      " AND (state = 'pending' OR state = 'in_flight' OR state = 'accepted') LIMIT 1");
  if (!newer.ok()) return newer.status();
  newer->BindText(1, system).Bind(2, sid.bytes()).Bind(3, last_id).BindText(4, purpose);
  Result<bool> open = newer->Step();
  if (!open.ok()) return open.status();
  return *open;
}

Result<std::vector<OutboxRow>> Outbox::Eligible(const std::string& system, int64_t now_ms, size_t limit,
                                                const std::set<int64_t>& busy) {
  Result<bool> paused = IsPaused(system);
  if (!paused.ok()) return paused.status();
  if (*paused || limit == 0) return std::vector<OutboxRow>();
  // The first state term matches the partial indexes' WHERE; the NOT EXISTS keeps
  // per-subject order: only a subject's oldest open row is ever eligible.
  Result<std::vector<OutboxRow>> rows = Query(
      std::string("SELECT ") + kColumns +
          " FROM outbox o WHERE o.system = ?1 AND (o.state = 'pending' OR o.state = 'in_flight' OR o.state = 'accepted')"
          " AND o.state != 'in_flight' AND o.next_attempt_ms <= ?2"
          " AND NOT EXISTS (SELECT 1 FROM outbox p WHERE p.system = ?1 AND p.sid = o.sid AND p.id < o.id"
          " AND (p.state = 'pending' OR p.state = 'in_flight' OR p.state = 'accepted'))"
          " ORDER BY o.id LIMIT ?3",
      [&](Stmt& s) {
        s.BindText(1, system).Bind(2, now_ms).Bind(3, static_cast<int64_t>(limit + busy.size()));
      });
  if (!rows.ok()) return rows.status();
  std::vector<OutboxRow> out;
  for (OutboxRow& r : *rows) {
    if (busy.count(r.id) || out.size() >= limit) continue;
    out.push_back(std::move(r));
  }
  return out;
}

Result<std::optional<int64_t>> Outbox::NextDue(const std::string& system) {
  auto lock = db_->Lock();
  Result<Stmt> q = db_->Cached(
      "SELECT MIN(next_attempt_ms) FROM outbox WHERE system = ?"
      " AND (state = 'pending' OR state = 'in_flight' OR state = 'accepted') AND state != 'in_flight'");
  if (!q.ok()) return q.status();
  q->BindText(1, system);
  Result<bool> row = q->Step();
  if (!row.ok()) return row.status();
  if (!*row || q->IsNull(0)) return std::optional<int64_t>();
  return std::optional<int64_t>(q->Int(0));
}

Result<std::vector<SystemStatus>> Outbox::Systems() {
  std::map<std::string, SystemStatus> by_id;
  std::shared_ptr<const policies::PolicySet> policy = policy_ ? policy_() : nullptr;
  if (policy) {
    for (const auto& [id, s] : policy->systems) by_id[id].system = id;
  }
  auto lock = db_->Lock();
  auto scan = [&](const char* sql, const std::function<void(Stmt&, SystemStatus&)>& fn) -> Status {
    Result<Stmt> q = db_->Cached(sql);
    if (!q.ok()) return q.status();
    for (;;) {
      Result<bool> row = q->Step();
      if (!row.ok()) return row.status();
      if (!*row) break;
      SystemStatus& st = by_id[q->Text(0)];
      st.system = q->Text(0);
      fn(*q, st);
    }
    return Status::Ok();
  };
  Status s = scan("SELECT system, paused, paused_ms FROM propagation_systems", [](Stmt& q, SystemStatus& st) {
    st.paused = q.Int(1) != 0;
    st.paused_ms = st.paused ? q.Int(2) : 0;
  });
  if (!s.ok()) return s;
  s = scan(
      "SELECT system, COUNT(*), MIN(created_ms) FROM outbox"
      " WHERE (state = 'pending' OR state = 'in_flight' OR state = 'accepted') GROUP BY system",
      [](Stmt& q, SystemStatus& st) {
        st.queue_depth = q.Int(1);
        st.oldest_pending_created_ms = q.Int(2);
      });
  if (!s.ok()) return s;
  s = scan("SELECT system, COUNT(*) FROM outbox"
           " WHERE state != 'pending' AND state = 'dead' GROUP BY system",
           [](Stmt& q, SystemStatus& st) { st.dead = q.Int(1); });
  if (!s.ok()) return s;
  std::vector<SystemStatus> out;
  for (auto& [id, st] : by_id) out.push_back(std::move(st));
  return out;
}

Result<SystemStatus> Outbox::StatusOf(const std::string& system) {
  Result<std::vector<SystemStatus>> all = Systems();
  if (!all.ok()) return all.status();
  for (SystemStatus& st : *all) {
    if (st.system == system) return std::move(st);
  }
  return Status::NotFound("unknown system");
}

Result<std::vector<int64_t>> Outbox::Claim(const std::vector<int64_t>& ids) {
  std::vector<int64_t> claimed;
  if (ids.empty()) return claimed;
  const int64_t now = clock_.NowMillis();
  Status s = writer_.Write({}, [&](sqlite3* db, auto) -> Status {
    claimed.clear();
    Result<Stmt> u =
        Stmt::Prepare(db, "UPDATE outbox SET state = 'in_flight', updated_ms = ? WHERE id = ? AND state = 'pending'");
    if (!u.ok()) return u.status();
    for (int64_t id : ids) {
      u->Bind(1, now).Bind(2, id);
      Status rs = u->Run();
      int changes = u->Changes();
      u->Reset();
      if (!rs.ok()) return rs;
      if (changes == 1) claimed.push_back(id);
    }
    return Status::Ok();
  });
  if (!s.ok()) return s.WithContext("outbox claim");
  return claimed;
}

Result<int64_t> Outbox::ResetInFlight() {
  int64_t n = 0;
  const int64_t now = clock_.NowMillis();
  Status s = writer_.Write({}, [&](sqlite3* db, auto) -> Status {
    Result<Stmt> u = Stmt::Prepare(
        db, "UPDATE outbox SET state = 'pending', next_attempt_ms = ?, updated_ms = ?"
            " WHERE state != 'pending' AND state = 'in_flight'");
    if (!u.ok()) return u.status();
    u->Bind(1, now).Bind(2, now);
    Status rs = u->Run();
    if (!rs.ok()) return rs;
    n = u->Changes();
    return Status::Ok();
  });
  if (!s.ok()) return s.WithContext("outbox reset in_flight");
  return n;
}

Status Outbox::Reschedule(const OutboxRow& row, RowState from, RowState to, int64_t next_attempt_ms,
                          const AttemptNote& note) {
  if (IsFinal(to) || to == RowState::kInFlight) return Status::Internal("Reschedule to a final or in_flight state");
  std::vector<RowStep> steps(1);
  steps[0].row = row;
  steps[0].from = from;
  steps[0].to = to;
  steps[0].next_attempt_ms = next_attempt_ms;
  steps[0].note = note;
  return Record(steps);
}

Result<service::DeliveryOutcome> Outbox::Finish(const OutboxRow& row, RowState from, service::DeliveryResult result,
                                                const AttemptNote& note) {
  std::vector<RowStep> steps(1);
  steps[0].row = row;
  steps[0].from = from;
  steps[0].to = result == service::DeliveryResult::kFailed      ? RowState::kDead
                : result == service::DeliveryResult::kDiscarded ? RowState::kDiscarded
                                                                : RowState::kDone;
  steps[0].result = result;
  steps[0].note = note;
  Status s = Record(steps);
  if (!s.ok()) return s;
  return std::move(steps[0].outcome);
}

Status Outbox::Record(std::vector<RowStep>& steps, const WriteFn& write) {
  if (steps.empty()) return Status::Ok();
  const int64_t now = clock_.NowMillis();
  std::vector<ledger::NewEntry> entries;
  std::vector<size_t> entry_of(steps.size(), SIZE_MAX);  // step -> index of its entry
  for (size_t i = 0; i < steps.size(); ++i) {
    RowStep& st = steps[i];
    if (st.to == RowState::kInFlight) return Status::Internal("Record: a step to in_flight");
    if (!IsFinal(st.to)) continue;
    const OutboxRow& row = st.row;
    service::DeliveryOutcome& outcome = st.outcome;
    outcome = service::DeliveryOutcome();
    outcome.outbox_id = static_cast<uint64_t>(row.id);
    outcome.system = row.system;
    outcome.kind = row.kind;
    outcome.sid = row.sid;
    outcome.cause_seq = row.cause_seq;
    outcome.request_id = row.request_id;
    outcome.result = st.result;
    outcome.reference = SanitizeReference(st.note.reference.empty() ? row.reference : st.note.reference);
    outcome.detail = SanitizeCode(st.note.code);
    outcome.time_ms = now;
    entry_of[i] = entries.size();
    entries.push_back({"delivery.outcome", OutcomePayload(row, st.result, st.note)});
  }
  const size_t n_entries = entries.size();
  service::DeliveryListener* listener = listener_.load();
  ledger::WriteHook hook = [&](sqlite3* db, std::span<const ledger::AppendedEntry> appended) -> Status {
    if (appended.size() != n_entries) return Status::Internal("delivery.outcome: unexpected number of appended entries");
    Result<Stmt> fin = Stmt::Prepare(db,
                                     "UPDATE outbox SET state = ?, attempts = ?, polls = ?, updated_ms = ?, acked_ms = ?,"
                                     " last_status = ?, last_code = ?, reference = ?, result = ?, outcome_seq = ?"
                                     " WHERE id = ? AND state = ?");
    if (!fin.ok()) return fin.status();
    Result<Stmt> re = Stmt::Prepare(db,
                                    "UPDATE outbox SET state = ?, attempts = ?, polls = ?, next_attempt_ms = ?,"
                                    " updated_ms = ?, acked_ms = ?, last_status = ?, last_code = ?, reference = ?"
                                    " WHERE id = ? AND state = ?");
    if (!re.ok()) return re.status();
    for (size_t i = 0; i < steps.size(); ++i) {
      RowStep& st = steps[i];
      const OutboxRow& row = st.row;
      Stmt* u = nullptr;
      if (entry_of[i] != SIZE_MAX) {
        st.outcome.outcome_seq = appended[entry_of[i]].seq;
        const bool acked =
            st.result == service::DeliveryResult::kConfirmed || st.result == service::DeliveryResult::kAlreadyDone;
        u = &*fin;
        u->BindText(1, RowStateName(st.to))
            .Bind(2, row.attempts)
            .Bind(3, row.polls)
            .Bind(4, now)
            .Bind(5, acked && row.acked_ms == 0 ? now : row.acked_ms)
            .Bind(6, st.note.http_status)
            .BindText(7, st.outcome.detail)
            .BindText(8, st.outcome.reference)
            .BindText(9, DeliveryResultName(st.result))
            .Bind(10, static_cast<int64_t>(st.outcome.outcome_seq))
            .Bind(11, row.id)
            .BindText(12, RowStateName(st.from));
      } else {
        u = &*re;
        u->BindText(1, RowStateName(st.to))
            .Bind(2, row.attempts)
            .Bind(3, row.polls)
            .Bind(4, st.next_attempt_ms)
            .Bind(5, now)
            .Bind(6, row.acked_ms)
            .Bind(7, st.note.http_status)
            .BindText(8, SanitizeCode(st.note.code))
            .BindText(9, SanitizeReference(st.note.reference.empty() ? row.reference : st.note.reference))
            .Bind(10, row.id)
            .BindText(11, RowStateName(st.from));
      }
      Status us = u->Run();
      const int changes = u->Changes();
      u->Reset();
      if (!us.ok()) return us;
      if (changes != 1) {
        return Status::FailedPrecondition("outbox row " + std::to_string(row.id) + " is no longer " +
                                          std::string(RowStateName(st.from)));
      }
      if (entry_of[i] != SIZE_MAX && listener != nullptr) {
        Status ls = listener->OnDeliveryOutcome(db, st.outcome);
        if (!ls.ok()) return ls;
      }
    }
    return Status::Ok();
  };
  if (write) return write(std::move(entries), std::move(hook));
  return writer_.Write(std::move(entries), std::move(hook));
}

Status Outbox::Replay(int64_t id) {
  Result<OutboxRow> row = Get(id);
  if (!row.ok()) return row.status();
  if (row->state != RowState::kDead) {
    return Status::FailedPrecondition("outbox row " + std::to_string(id) + " is " +
                                      std::string(RowStateName(row->state)) + ", not dead");
  }
  const int64_t now = clock_.NowMillis();
  return writer_.Write({}, [&](sqlite3* db, auto) -> Status {
    Result<bool> sup = Superseded(db, *row);
    if (!sup.ok()) return sup.status();
    if (*sup) {
      return Status::FailedPrecondition("outbox row " + std::to_string(id) +
                                        " is superseded by a later change of the same purpose; discard it instead");
    }
    return ReplayRow(db, *row, now);
  });
}

Result<int64_t> Outbox::ReplayDead(const std::string& system) {
  ListFilter f;
  f.state = RowState::kDead;
  f.system = system;
  f.limit = 1000;
  int64_t replayed = 0;
  for (;;) {
    Result<std::vector<OutboxRow>> rows = List(f);
    if (!rows.ok()) return rows.status();
    if (rows->empty()) break;
    f.after_id = rows->back().id;
    const int64_t now = clock_.NowMillis();
    int64_t n = 0;
    Status s = writer_.Write({}, [&](sqlite3* db, auto) -> Status {
      n = 0;
      for (const OutboxRow& r : *rows) {
        Result<bool> sup = Superseded(db, r);
        if (!sup.ok()) return sup.status();
        if (*sup) continue;
        Status rs = ReplayRow(db, r, now);
        if (rs.code() == StatusCode::kFailedPrecondition) continue;  // changed meanwhile
        if (!rs.ok()) return rs;
        ++n;
      }
      return Status::Ok();
    });
    if (!s.ok()) return s;
    replayed += n;
  }
  return replayed;
}

Result<service::DeliveryOutcome> Outbox::Discard(int64_t id) {
  Result<OutboxRow> row = Get(id);
  if (!row.ok()) return row.status();
  if (row->state != RowState::kDead) {
    return Status::FailedPrecondition("outbox row " + std::to_string(id) + " is " +
                                      std::string(RowStateName(row->state)) + ", not dead");
  }
  AttemptNote note{row->last_status, "discarded", row->reference};
  return Finish(*row, RowState::kDead, service::DeliveryResult::kDiscarded, note);
}

Status Outbox::SetPaused(const std::string& system, bool paused) {
  std::shared_ptr<const policies::PolicySet> policy = policy_ ? policy_() : nullptr;
  if (!policy || policy->FindSystem(system) == nullptr) return Status::NotFound("no such system in the policy");
  const int64_t now = clock_.NowMillis();
  return writer_.Write({}, [&](sqlite3* db, auto) -> Status {
    Result<Stmt> u = Stmt::Prepare(
        db,
        "INSERT INTO propagation_systems(system, paused, paused_ms, updated_ms) VALUES (?, ?, ?, ?)"
        " ON CONFLICT(system) DO UPDATE SET paused = excluded.paused,"
        " paused_ms = CASE WHEN excluded.paused = 1 AND propagation_systems.paused = 1"
        " THEN propagation_systems.paused_ms ELSE excluded.paused_ms END, updated_ms = excluded.updated_ms");
    if (!u.ok()) return u.status();
    u->BindText(1, system).Bind(2, paused ? 1 : 0).Bind(3, paused ? now : 0).Bind(4, now);
    return u->Run();
  });
}

}  // namespace consentd::propagation
