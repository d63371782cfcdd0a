// The outbox as FanOut: routing by policy, idempotency keys, atomicity with
// the cause entry, and what a row may hold.
#include <catch2/catch.hpp>
#include <map>
#include <nlohmann/json.hpp>
#include <regex>
#include <set>
#include <tuple>

#include "src/propagation/outbox.h"
#include "src/vault/sqlite_database.h"
#include "tests/propagation/test_env.h"

namespace consentd::propagation {
namespace {

using testing::PropagationEnv;

std::vector<std::string> SystemsOf(const std::vector<OutboxRow>& rows) {
  std::vector<std::string> out;
  for (const OutboxRow& r : rows) out.push_back(r.system);
  return out;
}

TEST_CASE("a consent change goes to every system that receives its purpose, never back to its origin") {
  PropagationEnv env;
  domain::Sid sid = env.Subject("a@example.com");
  uint64_t email = env.Consent(sid, "email_marketing", true);
  CHECK(SystemsOf(env.Rows()) == std::vector<std::string>{"alpha", "beta"});
  env.Consent(sid, "sms_marketing", false, /*origin=*/"beta");
  std::vector<OutboxRow> rows = env.Rows();
  REQUIRE(rows.size() == 3);
  CHECK(rows[2].system == "gamma");
  CHECK(rows[2].decision == domain::Decision::kWithdrawn);
  CHECK(rows[0].cause_seq == email);
  CHECK(rows[0].state == RowState::kPending);
  CHECK(rows[0].created_ms == env.clock.NowMillis());
  CHECK(rows[0].sid == sid);
}

TEST_CASE("an erasure goes to every configured system, its origin included") {
  PropagationEnv env;
  env.Erasure(env.Subject("a@example.com"), "r-1");
  std::vector<OutboxRow> rows = env.Rows();
  CHECK(SystemsOf(rows) == std::vector<std::string>{"alpha", "beta", "gamma"});
  for (const OutboxRow& r : rows) {
    CHECK(r.kind == service::ChangeKind::kErasure);
    CHECK(r.request_id == "r-1");
    CHECK(r.purpose.empty());
  }
}

TEST_CASE("idempotency keys are stable per cause entry and system, and fit [A-Za-z0-9_-]{1,64}") {
  const std::regex shape("[A-Za-z0-9_-]{1,64}");
  CHECK(IdempotencyKey(7, "alpha") == IdempotencyKey(7, "alpha"));
  CHECK(IdempotencyKey(7, "alpha") != IdempotencyKey(8, "alpha"));
  CHECK(IdempotencyKey(7, "alpha") != IdempotencyKey(7, "beta"));
  CHECK(std::regex_match(IdempotencyKey(18446744073709551615ULL, std::string(64, 'z') + ".x-y_z"), shape));
  CHECK(IdempotencyKey(7, "alpha").rfind("cd-7-", 0) == 0);
}

TEST_CASE("codes and references from downstream systems are bounded before they are stored") {
  CHECK(SanitizeCode("http_503") == "http_503");
  CHECK(SanitizeCode("") == "unknown");
  CHECK(SanitizeCode("bad code\"with{json}") == "bad_code_with_json_");
  CHECK(SanitizeCode(std::string(500, 'a')).size() == 64);
  CHECK(SanitizeReference("gid://shopify/DataErasureRequest/12") == "gid://shopify/DataErasureRequest/12");
  CHECK(SanitizeReference("a b").empty());
  CHECK(SanitizeReference("ada@example.com\n").empty());
  CHECK(SanitizeReference(std::string(129, 'a')).empty());
}

TEST_CASE("outbox rows roll back with the cause entry when any part of the transaction fails") {
  PropagationEnv env;
  domain::Sid sid = env.Subject("a@example.com");
  const uint64_t size = env.ledger().Size();
  SECTION("the caller's hook fails after Enqueue") {
    Status s = env.writer().Write({{"consent.recorded", R"({"sid":"x"})"}},
                                  [&](sqlite3* db, std::span<const ledger::AppendedEntry> a) {
                                    service::Change c;
                                    c.sid = sid;
                                    c.seq = a[0].seq;
                                    c.purpose = "email_marketing";
                                    Status es = env.outbox().Enqueue(db, c);
                                    REQUIRE(es.ok());
                                    return Status::Internal("later step failed");
                                  });
    CHECK(!s.ok());
  }
  SECTION("Enqueue itself fails (a change without a subject)") {
    Status s = env.writer().Write({{"consent.recorded", R"({"sid":"x"})"}},
                                  [&](sqlite3* db, std::span<const ledger::AppendedEntry> a) {
                                    service::Change c;
                                    c.seq = a[0].seq;
                                    c.purpose = "email_marketing";
                                    return env.outbox().Enqueue(db, c);
                                  });
    CHECK(s.code() == StatusCode::kInvalidArgument);
  }
  CHECK(env.ledger().Size() == size);
  CHECK(env.Rows().empty());
}

TEST_CASE("EnqueueMany writes the rows Enqueue writes for each change, in cause order, and fails whole on a bad change") {
  PropagationEnv env;
  const domain::Sid a = env.Subject("a@example.com");
  const domain::Sid b = env.Subject("b@example.com");
  auto change = [](const domain::Sid& sid, uint64_t seq, const std::string& purpose, const std::string& origin) {
    service::Change c;
    c.sid = sid;
    c.seq = seq;
    c.purpose = purpose;
    c.decision = domain::Decision::kGranted;
    c.origin_system = origin;
    return c;
  };
  SECTION("the rows of one Enqueue per change; one subject's rows per system in the changes' order") {
    std::vector<uint64_t> seqs;
    Status s = env.writer().Write(
        {{"consent.recorded", R"({"sid":"x"})"}, {"consent.recorded", R"({"sid":"y"})"},
         {"consent.recorded", R"({"sid":"z"})"}, {"consent.recorded", R"({"sid":"w"})"}},
        [&](sqlite3* db, std::span<const ledger::AppendedEntry> ap) {
          for (const auto& e : ap) seqs.push_back(e.seq);
          std::vector<service::Change> changes = {change(a, ap[0].seq, "email_marketing", ""),
                                                  change(b, ap[1].seq, "sms_marketing", "beta"),
                                                  change(a, ap[2].seq, "sms_marketing", ""),
                                                  change(b, ap[3].seq, "email_marketing", "")};
          return env.outbox().EnqueueMany(db, changes);
        });
    REQUIRE(s.ok());
    // email_marketing -> alpha, beta; sms_marketing from beta -> gamma;
    // sms_marketing -> beta, gamma; email_marketing -> alpha, beta.
    std::multiset<std::tuple<std::string, domain::Sid, uint64_t>> expected = {
        {"alpha", a, seqs[0]}, {"beta", a, seqs[0]}, {"gamma", b, seqs[1]}, {"beta", a, seqs[2]},
        {"gamma", a, seqs[2]}, {"alpha", b, seqs[3]}, {"beta", b, seqs[3]}};
    std::vector<OutboxRow> rows = env.Rows();  // by id
    std::multiset<std::tuple<std::string, domain::Sid, uint64_t>> got;
    for (const OutboxRow& r : rows) {
      got.insert({r.system, r.sid, r.cause_seq});
      CHECK(r.idempotency_key == IdempotencyKey(r.cause_seq, r.system));
      CHECK(r.state == RowState::kPending);
    }
    CHECK(got == expected);
    // In id order: by cause, then by system number (given in the order
    // systems were first sent a row: alpha, beta, gamma); each id is
    // OutboxRowId(cause, number).
    const std::map<std::string, int64_t> number = {{"alpha", 1}, {"beta", 2}, {"gamma", 3}};
    for (size_t i = 0; i < rows.size(); ++i) {
      const OutboxRow& r = rows[i];
      INFO("row " << i);
      CHECK(r.id == OutboxRowId(r.cause_seq, number.at(r.system)));
      if (i > 0) {
        const OutboxRow& p = rows[i - 1];
        CHECK(p.cause_seq <= r.cause_seq);
        if (p.cause_seq == r.cause_seq) CHECK(p.system < r.system);
      }
    }
  }
  SECTION("the same changes enqueued again in a later transaction write nothing more") {
    std::vector<service::Change> changes;
    Status s = env.writer().Write({{"consent.recorded", R"({"sid":"x"})"}, {"consent.recorded", R"({"sid":"y"})"}},
                                  [&](sqlite3* db, std::span<const ledger::AppendedEntry> ap) {
                                    changes = {change(a, ap[0].seq, "email_marketing", ""),
                                               change(b, ap[1].seq, "sms_marketing", "")};
                                    return env.outbox().EnqueueMany(db, changes);
                                  });
    REQUIRE(s.ok());
    const size_t rows = env.Rows().size();
    CHECK(rows == 4);
    s = env.writer().Write({}, [&](sqlite3* db, std::span<const ledger::AppendedEntry>) {
      Status e = env.outbox().Enqueue(db, changes[1]);
      if (!e.ok()) return e;
      return env.outbox().EnqueueMany(db, changes);
    });
    REQUIRE(s.ok());
    CHECK(env.Rows().size() == rows);
  }
  SECTION("a cause seq whose row id would pass 2^53 fails the call and the transaction") {
    const uint64_t size = env.ledger().Size();
    Status s = env.writer().Write({{"consent.recorded", R"({"sid":"x"})"}},
                                  [&](sqlite3* db, std::span<const ledger::AppendedEntry> ap) {
                                    std::vector<service::Change> changes = {
                                        change(a, ap[0].seq, "email_marketing", ""),
                                        change(b, kMaxOutboxCauseSeq + 1, "email_marketing", "")};
                                    return env.outbox().EnqueueMany(db, changes);
                                  });
    CHECK(s.code() == StatusCode::kInvalidArgument);
    CHECK(env.ledger().Size() == size);
    CHECK(env.Rows().empty());
    CHECK(OutboxRowId(kMaxOutboxCauseSeq, kMaxOutboxSystems) < (int64_t{1} << 53));
  }
  SECTION("a change without a subject fails the call and the transaction: no row of the others") {
    const uint64_t size = env.ledger().Size();
    Status s = env.writer().Write({{"consent.recorded", R"({"sid":"x"})"}},
                                  [&](sqlite3* db, std::span<const ledger::AppendedEntry> ap) {
                                    std::vector<service::Change> changes = {change(a, ap[0].seq, "email_marketing", ""),
                                                                            change(domain::Sid(), ap[0].seq, "email_marketing", "")};
                                    return env.outbox().EnqueueMany(db, changes);
                                  });
    CHECK(s.code() == StatusCode::kInvalidArgument);
    CHECK(env.ledger().Size() == size);
    CHECK(env.Rows().empty());
  }
}

TEST_CASE("a change whose purpose no system receives writes no rows") {
  PropagationEnv env;
  env.policy->systems.erase("gamma");
  env.policy->systems.erase("beta");
  env.Consent(env.Subject("a@example.com"), "sms_marketing", true);
  CHECK(env.Rows().empty());
}

TEST_CASE("no outbox column holds an identifier: the database file has no email after enqueueing") {
  PropagationEnv env;
  domain::Sid sid = env.Subject("unique-canary-4711@example.com");
  env.Consent(sid, "email_marketing", true);
  env.Erasure(sid, "r-2");
  Result<std::unique_ptr<vault::Database>> db = vault::Database::Open(env.db_path());
  REQUIRE(db.ok());
  auto lock = (*db)->Lock();
  Result<vault::Stmt> q = vault::Stmt::Prepare((*db)->handle(), "SELECT * FROM outbox");
  REQUIRE(q.ok());
  int rows = 0;
  for (;;) {
    Result<bool> r = q->Step();
    REQUIRE(r.ok());
    if (!*r) break;
    ++rows;
    for (int c = 0; c < 22; ++c) {
      if (!q->IsNull(c)) CHECK(q->Text(c).find("canary") == std::string::npos);
    }
  }
  CHECK(rows == 5);
}

TEST_CASE("system status counts open rows, the oldest open row and dead letters per system") {
  PropagationEnv env;
  const int64_t t0 = env.clock.NowMillis();
  env.Consent(env.Subject("a@example.com"), "email_marketing", true);
  env.clock.Advance(1000);
  env.Consent(env.Subject("b@example.com"), "email_marketing", true);
  Result<std::vector<SystemStatus>> all = env.outbox().Systems();
  REQUIRE(all.ok());
  REQUIRE(all->size() == 3);
  CHECK((*all)[0].system == "alpha");
  CHECK((*all)[0].queue_depth == 2);
  CHECK((*all)[0].oldest_pending_created_ms == t0);
  CHECK((*all)[2].system == "gamma");
  CHECK((*all)[2].queue_depth == 0);
}

// Claims every pending row of `system`; returns them as in_flight rows.
std::vector<OutboxRow> ClaimAll(PropagationEnv& env, const std::string& system) {
  std::vector<OutboxRow> rows = env.Rows(system);
  std::vector<int64_t> ids;
  for (const OutboxRow& r : rows) ids.push_back(r.id);
  Result<std::vector<int64_t>> claimed = env.outbox().Claim(ids);
  REQUIRE(claimed.ok());
  REQUIRE(claimed->size() == rows.size());
  for (OutboxRow& r : rows) r.state = RowState::kInFlight;
  return rows;
}

RowStep Step(const OutboxRow& row, RowState to, service::DeliveryResult result = service::DeliveryResult::kFailed) {
  RowStep st;
  st.row = row;
  st.row.attempts = 1;
  st.from = RowState::kInFlight;
  st.to = to;
  st.result = result;
  st.next_attempt_ms = row.created_ms + 60000;
  st.note = AttemptNote{200, "ok", ""};
  return st;
}

TEST_CASE("Record writes the steps of several rows with their outcome entries in one transaction") {
  PropagationEnv env;
  for (const char* e : {"a@example.com", "b@example.com", "c@example.com"}) {
    env.Consent(env.Subject(e), "email_marketing", true);
  }
  std::vector<OutboxRow> rows = ClaimAll(env, "alpha");
  REQUIRE(rows.size() == 3);
  std::vector<RowStep> steps = {Step(rows[0], RowState::kDone, service::DeliveryResult::kConfirmed),
                                Step(rows[1], RowState::kPending),
                                Step(rows[2], RowState::kDead, service::DeliveryResult::kFailed)};
  const uint64_t commits = env.ledger().stats().commits;
  const uint64_t size = env.ledger().Size();
  REQUIRE(env.outbox().Record(steps).ok());
  CHECK(env.ledger().stats().commits == commits + 1);
  CHECK(env.ledger().Size() == size + 2);  // two final steps, one reschedule (no entry)
  CHECK(steps[0].outcome.outcome_seq == size);
  CHECK(steps[2].outcome.outcome_seq == size + 1);
  std::vector<OutboxRow> after = env.Rows("alpha");
  CHECK(after[0].state == RowState::kDone);
  CHECK(after[0].outcome_seq == size);
  CHECK(after[0].acked_ms > 0);
  CHECK(after[1].state == RowState::kPending);
  CHECK(after[1].next_attempt_ms == rows[1].created_ms + 60000);
  CHECK(after[1].attempts == 1);
  CHECK(after[2].state == RowState::kDead);
  CHECK(after[2].result == "failed");
  CHECK(env.Entries("delivery.outcome").size() == 2);
}

TEST_CASE("Record writes nothing when one row of the batch was changed by someone else") {
  PropagationEnv env;
  for (const char* e : {"a@example.com", "b@example.com", "c@example.com"}) {
    env.Consent(env.Subject(e), "email_marketing", true);
  }
  std::vector<OutboxRow> rows = ClaimAll(env, "alpha");
  // Another process put the middle row back (a restart's reset, say).
  REQUIRE(env.outbox().Reschedule(rows[1], RowState::kInFlight, RowState::kPending, 0, AttemptNote{}).ok());
  std::vector<RowStep> steps;
  for (const OutboxRow& r : rows) steps.push_back(Step(r, RowState::kDone, service::DeliveryResult::kConfirmed));
  const uint64_t size = env.ledger().Size();
  Status s = env.outbox().Record(steps);
  CHECK(s.code() == StatusCode::kFailedPrecondition);
  CHECK(env.ledger().Size() == size);
  std::vector<OutboxRow> after = env.Rows("alpha");
  CHECK(after[0].state == RowState::kInFlight);
  CHECK(after[1].state == RowState::kPending);
  CHECK(after[2].state == RowState::kInFlight);
  // A step to in_flight is refused outright.
  std::vector<RowStep> bad = {Step(rows[0], RowState::kInFlight)};
  CHECK(env.outbox().Record(bad).code() == StatusCode::kInternal);
}

}  // namespace
}  // namespace consentd::propagation
