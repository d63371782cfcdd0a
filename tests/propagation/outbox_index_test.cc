// The outbox's indexes: every query reads through one (a pending row, what
// an import writes, enters only the table and the two indexes of open rows,
// whose WHERE has no IN list), and a data directory with the older index set
// is migrated by EnsureSchema with its rows found as before.
#include <sqlite3.h>

#include <catch2/catch.hpp>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "src/propagation/outbox.h"
#include "src/vault/sqlite_database.h"
#include "tests/propagation/test_env.h"

namespace consentd::propagation {
namespace {

using testing::PropagationEnv;

const std::set<std::string> kIndexes = {"outbox_open_by_system", "outbox_open_by_subject", "outbox_touched_by_state",
                                        "outbox_closed_by_subject"};

// The SQL of every statement that ran on any connection opened while a
// StatementLog lives (sqlite3_auto_extension installs a trace on each).
class StatementLog {
 public:
  StatementLog() {
    std::lock_guard<std::mutex> l(mu());
    sql().clear();
    sqlite3_auto_extension(reinterpret_cast<void (*)()>(&Install));
  }
  ~StatementLog() { sqlite3_cancel_auto_extension(reinterpret_cast<void (*)()>(&Install)); }
  StatementLog(const StatementLog&) = delete;
  StatementLog& operator=(const StatementLog&) = delete;

  // Statements that read or change the outbox table (not
  // outbox_system_numbers: at most 1023 rows, read whole on purpose).
  std::set<std::string> OutboxStatements() const {
    std::lock_guard<std::mutex> l(mu());
    std::set<std::string> out;
    for (const std::string& s : sql()) {
      if (s.find("FROM outbox_system_numbers") != std::string::npos) continue;
      if (s.find("FROM outbox") != std::string::npos || s.rfind("UPDATE outbox", 0) == 0) out.insert(s);
    }
    return out;
  }

 private:
  static std::mutex& mu() {
    static std::mutex m;
    return m;
  }
  static std::set<std::string>& sql() {
    static std::set<std::string> s;
    return s;
  }
  static int Trace(unsigned, void*, void* stmt, void*) {
    const char* text = sqlite3_sql(static_cast<sqlite3_stmt*>(stmt));
    if (text != nullptr) {
      std::lock_guard<std::mutex> l(mu());
      sql().insert(text);
    }
    return 0;
  }
  static int Install(sqlite3* db, char**, const sqlite3_api_routines*) {
    sqlite3_trace_v2(db, SQLITE_TRACE_STMT, &Trace, nullptr);
    return SQLITE_OK;
  }
};

// EXPLAIN QUERY PLAN of `sql`, one detail line per step.
std::vector<std::string> PlanOf(sqlite3* db, const std::string& sql) {
  sqlite3_stmt* st = nullptr;
  REQUIRE(sqlite3_prepare_v2(db, ("EXPLAIN QUERY PLAN " + sql).c_str(), -1, &st, nullptr) == SQLITE_OK);
  std::vector<std::string> out;
  while (sqlite3_step(st) == SQLITE_ROW) out.emplace_back(reinterpret_cast<const char*>(sqlite3_column_text(st, 3)));
  sqlite3_finalize(st);
  return out;
}

std::set<std::string> Indexes(sqlite3* db) {
  std::set<std::string> out;
  sqlite3_stmt* st = nullptr;
  REQUIRE(sqlite3_prepare_v2(db, "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'outbox'"
                                 " AND sql IS NOT NULL",
                             -1, &st, nullptr) == SQLITE_OK);
  while (sqlite3_step(st) == SQLITE_ROW) out.emplace(reinterpret_cast<const char*>(sqlite3_column_text(st, 0)));
  sqlite3_finalize(st);
  return out;
}

struct Connection {
  explicit Connection(const std::string& path) { REQUIRE(sqlite3_open(path.c_str(), &db) == SQLITE_OK); }
  ~Connection() { sqlite3_close(db); }
  sqlite3* db = nullptr;
};

// Claims `row` and moves it to `to` (a final state or accepted).
void Settle(PropagationEnv& env, const OutboxRow& row, RowState to) {
  Result<std::vector<int64_t>> claimed = env.outbox().Claim({row.id});
  REQUIRE(claimed.ok());
  REQUIRE(claimed->size() == 1);
  OutboxRow r = row;
  r.state = RowState::kInFlight;
  if (to == RowState::kAccepted) {
    REQUIRE(env.outbox().Reschedule(r, RowState::kInFlight, RowState::kAccepted, 0, AttemptNote{202, "accepted", "job-1"}).ok());
    return;
  }
  const service::DeliveryResult result =
      to == RowState::kDone ? service::DeliveryResult::kConfirmed : service::DeliveryResult::kFailed;
  REQUIRE(env.outbox().Finish(r, RowState::kInFlight, result, AttemptNote{200, "ok", ""}).ok());
}

std::vector<int64_t> IdsOf(const std::vector<OutboxRow>& rows) {
  std::vector<int64_t> out;
  for (const OutboxRow& r : rows) out.push_back(r.id);
  return out;
}

// Rows of alpha in every state: for subject a, done, dead, then pending;
// for b, accepted then pending; for c, pending twice. Returns alpha's rows
// by id.
std::vector<OutboxRow> Populate(PropagationEnv& env, domain::Sid* a, domain::Sid* b, domain::Sid* c) {
  *a = env.Subject("a@example.com");
  *b = env.Subject("b@example.com");
  *c = env.Subject("c@example.com");
  env.Consent(*a, "email_marketing", true);
  env.Consent(*a, "email_marketing", false);
  env.Consent(*b, "email_marketing", true);
  env.Consent(*c, "email_marketing", true);
  std::vector<OutboxRow> rows = env.Rows("alpha");
  REQUIRE(rows.size() == 4);
  Settle(env, rows[0], RowState::kDone);
  Settle(env, rows[1], RowState::kDead);
  Settle(env, rows[2], RowState::kAccepted);
  env.Consent(*a, "email_marketing", true);
  env.Consent(*b, "email_marketing", false);
  env.Consent(*c, "email_marketing", false);
  return env.Rows("alpha");
}

// What the dispatcher and operators read from rows Populate wrote.
void CheckReads(PropagationEnv& env, const std::vector<OutboxRow>& rows, const domain::Sid& a) {
  REQUIRE(rows.size() == 7);
  // alpha: [0] a done, [1] a dead, [2] b accepted, [3] c pending,
  //        [4] a pending, [5] b pending, [6] c pending.
  const int64_t now = env.clock.NowMillis();
  // Per subject only the oldest open row: b's accepted row (due at 0), c's
  // first row, and a's pending row (its earlier rows are final).
  Result<std::vector<OutboxRow>> eligible = env.outbox().Eligible("alpha", now, 10, {});
  REQUIRE(eligible.ok());
  CHECK(IdsOf(*eligible) == std::vector<int64_t>{rows[2].id, rows[3].id, rows[4].id});
  Result<std::vector<OutboxRow>> limited = env.outbox().Eligible("alpha", now, 1, {rows[2].id});
  REQUIRE(limited.ok());
  CHECK(IdsOf(*limited) == std::vector<int64_t>{rows[3].id});
  ListFilter dead;
  dead.state = RowState::kDead;
  CHECK(IdsOf(env.outbox().List(dead).value()) == std::vector<int64_t>{rows[1].id});
  ListFilter pending;
  pending.state = RowState::kPending;
  pending.system = "alpha";
  CHECK(IdsOf(env.outbox().List(pending).value()) == std::vector<int64_t>{rows[3].id, rows[4].id, rows[5].id, rows[6].id});
  ListFilter done;
  done.state = RowState::kDone;
  CHECK(IdsOf(env.outbox().List(done).value()) == std::vector<int64_t>{rows[0].id});
  ListFilter accepted;
  accepted.state = RowState::kAccepted;
  accepted.system = "alpha";
  CHECK(IdsOf(env.outbox().List(accepted).value()) == std::vector<int64_t>{rows[2].id});
  Result<SystemStatus> st = env.outbox().StatusOf("alpha");
  REQUIRE(st.ok());
  CHECK(st->queue_depth == 5);
  CHECK(st->dead == 1);
  CHECK(env.outbox().NextDue("alpha").value() == std::optional<int64_t>(0));
  // a's granted was delivered (done) and a withdrawal is open: a report of
  // granted is an echo.
  CHECK(env.outbox().IsEcho("alpha", a, "email_marketing", domain::Decision::kGranted).value());
  CHECK_FALSE(env.outbox().IsEcho("alpha", a, "email_marketing", domain::Decision::kWithdrawn).value());
  // a's dead row is superseded by its later pending row: no replay.
  CHECK(env.outbox().Replay(rows[1].id).code() == StatusCode::kFailedPrecondition);
  CHECK(env.outbox().ReplayDead("alpha").value() == 0);
}

TEST_CASE("every outbox query reads through an index, and a new row enters only the two open-row indexes") {
  StatementLog log;  // before the env opens its connections
  PropagationEnv env;
  domain::Sid a, b, c;
  std::vector<OutboxRow> rows = Populate(env, &a, &b, &c);
  CheckReads(env, rows, a);
  REQUIRE(env.outbox().Get(rows[0].id).ok());
  ListFilter all;
  REQUIRE(env.outbox().List(all).ok());
  ListFilter in_flight;
  in_flight.state = RowState::kInFlight;
  REQUIRE(env.outbox().List(in_flight).ok());
  REQUIRE(env.outbox().Claim({rows[3].id}).ok());
  CHECK(env.outbox().ResetInFlight().value() == 1);
  REQUIRE(env.outbox().Discard(rows[1].id).ok());
  REQUIRE(env.outbox().SetPaused("beta", true).ok());
  REQUIRE(env.outbox().Systems().ok());

  Connection conn(env.db_path());
  CHECK(Indexes(conn.db) == kIndexes);
  // A pending row is in the partial indexes of open rows only.
  for (const char* index : {"outbox_touched_by_state", "outbox_closed_by_subject"}) {
    sqlite3_stmt* st = nullptr;
    REQUIRE(sqlite3_prepare_v2(conn.db, (std::string("SELECT sql FROM sqlite_master WHERE name = '") + index + "'").c_str(),
                               -1, &st, nullptr) == SQLITE_OK);
    REQUIRE(sqlite3_step(st) == SQLITE_ROW);
    const std::string sql = reinterpret_cast<const char*>(sqlite3_column_text(st, 0));
    sqlite3_finalize(st);
    INFO(sql);
    CHECK(sql.find("WHERE") != std::string::npos);
    CHECK((sql.find("'pending'") == std::string::npos || sql.find("state != 'pending'") != std::string::npos));
  }
  // No partial index's WHERE has an IN list: SQLite would build a B-tree of
  // the list at every insert.
  for (const std::string& index : kIndexes) {
    sqlite3_stmt* st = nullptr;
    REQUIRE(sqlite3_prepare_v2(conn.db, ("SELECT sql FROM sqlite_master WHERE name = '" + index + "'").c_str(), -1, &st,
                               nullptr) == SQLITE_OK);
    REQUIRE(sqlite3_step(st) == SQLITE_ROW);
    const std::string sql = reinterpret_cast<const char*>(sqlite3_column_text(st, 0));
    sqlite3_finalize(st);
    INFO(sql);
    CHECK(sql.find(" IN ") == std::string::npos);
    CHECK(sql.find(" IN(") == std::string::npos);
  }

  const std::set<std::string> statements = log.OutboxStatements();
  CHECK(statements.size() >= 12);
  std::map<std::string, int> used;  // index -> statements using it
  for (const std::string& sql : statements) {
    INFO(sql);
    std::vector<std::string> plan = PlanOf(conn.db, sql);
    CHECK_FALSE(plan.empty());
    for (const std::string& step : plan) {
      INFO(step);
      // "SCAN t" alone reads the whole table; "SCAN t USING INDEX i" reads a
      // (partial) index, "SEARCH" a range of one.
      if (step.rfind("SCAN ", 0) == 0) CHECK(step.find(" USING ") != std::string::npos);
      CHECK(step.find("AUTOMATIC") == std::string::npos);
      for (const std::string& index : kIndexes) {
        if (step.find("INDEX " + index + " ") != std::string::npos || step.ends_with("INDEX " + index)) {
          ++used[index];
        }
      }
    }
  }
  // Eligible, NextDue and queue depths; per-subject order and echoes;
  // dead letters, in-flight resets and state lists; echoes and replays.
  CHECK(used["outbox_open_by_system"] >= 2);
  CHECK(used["outbox_open_by_subject"] >= 2);
  CHECK(used["outbox_touched_by_state"] >= 3);
  CHECK(used["outbox_closed_by_subject"] >= 2);
}

// The outbox indexes of data directories made before this index set (up
// to commit 0c40a54), with the unique (cause_seq, system) index that row
// ids replaced.
constexpr const char* kOldIndexes = R"sql(
CREATE UNIQUE INDEX outbox_cause ON outbox(cause_seq, system);
DROP INDEX outbox_open_by_system;
DROP INDEX outbox_open_by_subject;
DROP INDEX outbox_touched_by_state;
DROP INDEX outbox_closed_by_subject;
CREATE INDEX outbox_open ON outbox(system, id)
  WHERE state IN ('pending', 'in_flight', 'accepted');
CREATE INDEX outbox_open_subject ON outbox(system, sid, id)
  WHERE state IN ('pending', 'in_flight', 'accepted');
CREATE INDEX outbox_state ON outbox(state, system, id);
CREATE INDEX outbox_subject ON outbox(system, sid, id);
)sql";

TEST_CASE("EnsureSchema migrates a data directory with the older outbox indexes, and its rows read as before") {
  PropagationEnv env;
  REQUIRE(env.writer().Write({}, [](sqlite3* db, auto) { return vault::Exec(db, kOldIndexes); }).ok());
  {
    Connection conn(env.db_path());
    REQUIRE(Indexes(conn.db) == std::set<std::string>{"outbox_cause", "outbox_open", "outbox_open_subject",
                                                      "outbox_state", "outbox_subject"});
  }
  // Rows written and moved under the old index set.
  domain::Sid a, b, c;
  std::vector<OutboxRow> rows = Populate(env, &a, &b, &c);
  REQUIRE(env.writer().Write({}, [](sqlite3* db, auto) { return Outbox::EnsureSchema(db); }).ok());
  // Idempotent: a second start changes nothing.
  REQUIRE(env.writer().Write({}, [](sqlite3* db, auto) { return Outbox::EnsureSchema(db); }).ok());
  Connection conn(env.db_path());
  CHECK(Indexes(conn.db) == kIndexes);
  sqlite3_stmt* st = nullptr;
  REQUIRE(sqlite3_prepare_v2(conn.db, "PRAGMA integrity_check", -1, &st, nullptr) == SQLITE_OK);
  REQUIRE(sqlite3_step(st) == SQLITE_ROW);
  CHECK(std::string(reinterpret_cast<const char*>(sqlite3_column_text(st, 0))) == "ok");
  sqlite3_finalize(st);
  // The partial indexes hold the rows that were there before the migration.
  auto count = [&](const char* sql) {
    sqlite3_stmt* q = nullptr;
    REQUIRE(sqlite3_prepare_v2(conn.db, sql, -1, &q, nullptr) == SQLITE_OK);
    REQUIRE(sqlite3_step(q) == SQLITE_ROW);
    const int64_t n = sqlite3_column_int64(q, 0);
    sqlite3_finalize(q);
    return n;
  };
  CHECK(count("SELECT count(*) FROM outbox INDEXED BY outbox_closed_by_subject"
              " WHERE (state = 'done' OR state = 'dead' OR state = 'discarded') AND system = 'alpha'") == 2);
  CHECK(count("SELECT count(*) FROM outbox INDEXED BY outbox_touched_by_state WHERE state != 'pending'") == 3);
  CHECK(count("SELECT count(*) FROM outbox INDEXED BY outbox_open_by_subject"
              " WHERE (state = 'pending' OR state = 'in_flight' OR state = 'accepted')") == 12);  // alpha 5, beta 7
  CheckReads(env, rows, a);
}

TEST_CASE("rows written before row ids keep their sequential ids, every new row's id is above them, and an id held "
          "by another change fails the enqueue") {
  PropagationEnv env;
  const domain::Sid a = env.Subject("a@example.com");
  // Ledger entries 0..2, and three rows as older versions wrote them for the
  // causes 0 and 1: ids 1, 2, 3 (SQLite's next rowid).
  REQUIRE(env.writer()
              .Write({{"consent.recorded", R"({"sid":"x"})"}, {"consent.recorded", R"({"sid":"y"})"},
                      {"consent.recorded", R"({"sid":"z"})"}},
                     [&](sqlite3* db, auto) {
                       const std::string sid = "x'" + a.ToHex() + "'";
                       return vault::Exec(
                           db, ("INSERT INTO outbox(id, system, sid, kind, cause_seq, purpose, idempotency_key, state,"
                                " next_attempt_ms, created_ms, updated_ms) VALUES"
                                " (1, 'alpha', " + sid + ", 'consent', 0, 'email_marketing', 'k1', 'done', 0, 0, 0),"
                                " (2, 'beta', " + sid + ", 'consent', 0, 'email_marketing', 'k2', 'done', 0, 0, 0),"
                                " (3, 'alpha', " + sid + ", 'consent', 1, 'email_marketing', 'k3', 'dead', 0, 0, 0)")
                                   .c_str());
                     })
              .ok());
  const uint64_t seq = env.Consent(a, "email_marketing", true);
  CHECK(seq == 3);
  std::vector<OutboxRow> rows = env.Rows();
  REQUIRE(rows.size() == 5);
  CHECK(rows[0].id == 1);
  CHECK(rows[2].id == 3);
  CHECK(rows[3].cause_seq == seq);
  CHECK(rows[3].id == OutboxRowId(seq, 1));  // alpha: the first system given a number
  CHECK(rows[4].id == OutboxRowId(seq, 2));  // beta
  // A row holding the id the next change's alpha row gets, for another
  // cause: the enqueue fails instead of dropping the row.
  const uint64_t next = env.ledger().Size();
  REQUIRE(env.writer()
              .Write({}, [&](sqlite3* db, auto) {
                return vault::Exec(db, ("INSERT INTO outbox(id, system, sid, kind, cause_seq, idempotency_key, state,"
                                        " next_attempt_ms, created_ms, updated_ms) VALUES (" +
                                        std::to_string(OutboxRowId(next, 1)) + ", 'beta', x'" + a.ToHex() +
                                        "', 'consent', 1, 'k', 'done', 0, 0, 0)")
                                           .c_str());
              })
              .ok());
  Status s = env.writer().Write({{"consent.recorded", R"({"sid":"w"})"}},
                                [&](sqlite3* db, std::span<const ledger::AppendedEntry> ap) {
                                  service::Change c;
                                  c.sid = a;
                                  c.seq = ap[0].seq;
                                  c.purpose = "email_marketing";
                                  c.decision = domain::Decision::kGranted;
                                  return env.outbox().Enqueue(db, c);
                                });
  CHECK(s.code() == StatusCode::kInternal);
  CHECK(env.ledger().Size() == next);
  CHECK(env.Rows().size() == 6);
}

TEST_CASE("once 1023 systems have numbers, a row for another system fails its transaction and writes nothing") {
  PropagationEnv env;
  const domain::Sid a = env.Subject("a@example.com");
  // alpha gets its number from a first change; then 1022 systems of the
  // past fill the numbers up.
  env.Consent(a, "email_marketing", true);
  REQUIRE(env.writer()
              .Write({}, [](sqlite3* db, auto) {
                return vault::Exec(db,
                                   "WITH RECURSIVE n(i) AS (SELECT 3 UNION ALL SELECT i + 1 FROM n WHERE i < 1023)"
                                   " INSERT INTO outbox_system_numbers(no, system) SELECT i, 'old-' || i FROM n");
              })
              .ok());
  const size_t rows = env.Rows().size();
  const uint64_t size = env.ledger().Size();
  // alpha (1) and beta (2) still have theirs; gamma has none and there is
  // no number left for it.
  Status s = env.writer().Write({{"consent.recorded", R"({"sid":"x"})"}},
                                [&](sqlite3* db, std::span<const ledger::AppendedEntry> ap) {
                                  service::Change c;
                                  c.sid = a;
                                  c.seq = ap[0].seq;
                                  c.purpose = "sms_marketing";  // beta and gamma
                                  c.decision = domain::Decision::kGranted;
                                  return env.outbox().Enqueue(db, c);
                                });
  CHECK(s.code() == StatusCode::kFailedPrecondition);
  CHECK(env.ledger().Size() == size);
  CHECK(env.Rows().size() == rows);
  // Systems that have numbers still get rows.
  const uint64_t seq = env.Consent(a, "email_marketing", false);
  CHECK(env.Rows().size() == rows + 2);
  CHECK(env.Rows().back().id == OutboxRowId(seq, 2));
}

}  // namespace
}  // namespace consentd::propagation
