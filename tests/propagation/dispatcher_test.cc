// The dispatcher with fake adapters: order, retries, Retry-After, reauth,
// asynchronous jobs, dead letters, replay, discard, pause, isolation of a
// failing system, restart. Most tests run RunOnce on the test's thread
// with a FakeClock; the threaded ones use real time and bounded waits.
#include <catch2/catch.hpp>
#include <chrono>
#include <nlohmann/json.hpp>
#include <thread>

#include "src/propagation/dispatcher.h"
#include "tests/propagation/test_env.h"

namespace consentd::propagation {
namespace {

using testing::Accepted;
using testing::Done;
using testing::FakeAdapter;
using testing::Permanent;
using testing::PropagationEnv;
using testing::Reauth;
using testing::Retry;

std::shared_ptr<FakeAdapter> Fake() { return std::make_shared<FakeAdapter>(); }

OutboxRow OnlyRow(PropagationEnv& env, const std::string& system) {
  std::vector<OutboxRow> rows = env.Rows(system);
  REQUIRE(rows.size() == 1);
  return rows[0];
}

template <typename Pred>
bool WaitFor(Pred pred, int seconds = 20) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(seconds);
  while (std::chrono::steady_clock::now() < deadline) {
    if (pred()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return pred();
}

TEST_CASE("a delivered change is done and recorded by one delivery.outcome entry naming no personal data") {
  PropagationEnv env;
  auto alpha = Fake();
  domain::Sid sid = env.Subject("ada@example.com");
  uint64_t cause = env.Consent(sid, "email_marketing", true);
  auto d = env.MakeDispatcher({}, {{"alpha", alpha}});
  Result<size_t> n = d->RunOnce("alpha");
  REQUIRE(n.ok());
  CHECK(*n == 1);

  REQUIRE(alpha->calls().size() == 1);
  const adapters::Request req = alpha->calls()[0].request;
  CHECK(req.op == adapters::Operation::kSetConsent);
  CHECK(req.purpose == "email_marketing");
  CHECK(req.channel == "email");
  CHECK(req.granted);
  CHECK(req.customer.email == "ada@example.com");  // read from the identity source at delivery time
  CHECK(req.idempotency_key == IdempotencyKey(cause, "alpha"));

  OutboxRow row = OnlyRow(env, "alpha");
  CHECK(row.state == RowState::kDone);
  CHECK(row.result == "confirmed");
  CHECK(row.attempts == 1);
  std::vector<std::string> outcomes = env.Entries("delivery.outcome");
  REQUIRE(outcomes.size() == 1);
  CHECK(row.outcome_seq == cause + 1);
  nlohmann::json j = nlohmann::json::parse(outcomes[0]);
  CHECK(j["system"] == "alpha");
  CHECK(j["op"] == "set_consent");
  CHECK(j["result"] == "confirmed");
  CHECK(j["cause_seq"] == cause);
  CHECK(j["sid"] == sid.ToHex());
  CHECK(outcomes[0].find("ada@") == std::string::npos);
  CHECK(outcomes[0].find("example.com") == std::string::npos);
}

TEST_CASE("a later change of a subject waits until the earlier one is final, across retries") {
  PropagationEnv env;
  auto alpha = Fake();
  int calls = 0;
  alpha->SetScript([&](const FakeAdapter::Call&) { return ++calls <= 2 ? Retry(503) : Done(); });
  domain::Sid sid = env.Subject("a@example.com");
  env.Consent(sid, "email_marketing", true);   // opt-in
  env.Consent(sid, "email_marketing", false);  // opt-out
  env.Consent(sid, "email_marketing", true);   // opt-in again
  DispatcherOptions o;
  o.backoff = {1000, 60000};
  auto d = env.MakeDispatcher(o, {{"alpha", alpha}});

  REQUIRE(*d->RunOnce("alpha") == 1);  // only the oldest row; it fails
  std::vector<OutboxRow> rows = env.Rows("alpha");
  REQUIRE(rows.size() == 3);
  CHECK(rows[0].state == RowState::kPending);
  CHECK(rows[0].attempts == 1);
  CHECK(rows[0].last_code == "http_503");
  CHECK(rows[1].attempts == 0);
  CHECK(rows[2].attempts == 0);

  // Nothing is due before the backoff ends: the later rows do not overtake.
  REQUIRE(*d->RunOnce("alpha") == 0);
  for (int i = 0; i < 10 && env.Rows("alpha")[2].state != RowState::kDone; ++i) {
    env.clock.Advance(60000);
    REQUIRE(d->RunOnce("alpha").ok());
  }
  std::vector<FakeAdapter::Call> seen = alpha->calls();
  REQUIRE(seen.size() == 5);  // 3 attempts of the first row, then one each
  std::vector<bool> granted;
  for (const auto& c : seen) granted.push_back(c.request.granted);
  CHECK(granted == std::vector<bool>{true, true, true, false, true});
  // The same idempotency key on every attempt of one delivery.
  CHECK(seen[0].request.idempotency_key == seen[2].request.idempotency_key);
  CHECK(seen[2].request.idempotency_key != seen[3].request.idempotency_key);
  for (const OutboxRow& r : env.Rows("alpha")) CHECK(r.state == RowState::kDone);
  // Retries are not ledger entries: one outcome per row.
  CHECK(env.Entries("delivery.outcome").size() == 3);
}

TEST_CASE("subjects are independent: one subject's failing row does not hold up another's") {
  PropagationEnv env;
  auto alpha = Fake();
  domain::Sid bad = env.Subject("bad@example.com");
  domain::Sid good = env.Subject("good@example.com");
  alpha->SetScript([](const FakeAdapter::Call& c) {
    return c.request.customer.email == "bad@example.com" ? Retry(500) : Done();
  });
  env.Consent(bad, "email_marketing", true);
  env.Consent(good, "email_marketing", true);
  auto d = env.MakeDispatcher({}, {{"alpha", alpha}});
  REQUIRE(*d->RunOnce("alpha") == 2);
  std::vector<OutboxRow> rows = env.Rows("alpha");
  CHECK(rows[0].state == RowState::kPending);
  CHECK(rows[1].state == RowState::kDone);
}

TEST_CASE("backoff grows exponentially with full jitter and never comes before Retry-After") {
  BackoffPolicy p{1000, 60000};
  CHECK(BackoffDelay(p, 1, 1.0, std::nullopt) == 1000);
  CHECK(BackoffDelay(p, 2, 1.0, std::nullopt) == 2000);
  CHECK(BackoffDelay(p, 5, 1.0, std::nullopt) == 16000);
  CHECK(BackoffDelay(p, 30, 1.0, std::nullopt) == 60000);  // capped
  CHECK(BackoffDelay(p, 3, 0.5, std::nullopt) == 2000);   // jitter scales the ceiling
  CHECK(BackoffDelay(p, 3, 0.0, std::nullopt) == 0);
  CHECK(BackoffDelay(p, 1, 0.0, 30000) == 30000);
  CHECK(BackoffDelay(p, 10, 1.0, 5000) == 60000);
}

TEST_CASE("a 429 with Retry-After reschedules the row and pauses the system's bucket") {
  PropagationEnv env;
  auto alpha = Fake();
  alpha->SetScript([](const FakeAdapter::Call&) { return Retry(429, 30000); });
  domain::Sid sid = env.Subject("a@example.com");
  env.Consent(sid, "email_marketing", true);
  auto d = std::make_unique<Dispatcher>(env.outbox(), env.customers(), [p = env.policy] { return p; },
                                        DispatcherOptions{}, env.clock, env.sleeper, [] { return 0.0; }, nullptr,
                                        nullptr);
  DispatchTarget t;
  t.system = env.policy->systems.at("alpha");
  t.adapter = alpha;
  t.bucket = std::make_shared<TokenBucket>(10, 5, env.clock, env.sleeper);
  auto bucket = t.bucket;
  d->AddTarget(std::move(t));
  const int64_t now = env.clock.NowMillis();
  REQUIRE(*d->RunOnce("alpha") == 1);
  OutboxRow row = OnlyRow(env, "alpha");
  CHECK(row.state == RowState::kPending);
  CHECK(row.last_status == 429);
  CHECK(row.next_attempt_ms == now + 30000);  // jitter 0, so exactly the hint
  CHECK(bucket->NextFreeMillis() >= now + 30000);
}

TEST_CASE("an expired token is refreshed once and the delivery retried at once") {
  PropagationEnv env;
  auto alpha = Fake();
  int n = 0;
  alpha->SetScript([&](const FakeAdapter::Call&) { return ++n == 1 ? Reauth() : Done(); });
  env.Consent(env.Subject("a@example.com"), "email_marketing", true);
  auto d = env.MakeDispatcher({}, {{"alpha", alpha}});
  REQUIRE(*d->RunOnce("alpha") == 1);
  CHECK(alpha->reauths() == 1);
  CHECK(alpha->calls().size() == 2);
  OutboxRow row = OnlyRow(env, "alpha");
  CHECK(row.state == RowState::kDone);
  CHECK(row.attempts == 1);
}

TEST_CASE("a credential that cannot be refreshed, or a second 401, fails permanently with auth_failed") {
  PropagationEnv env;
  auto alpha = Fake();
  alpha->SetScript([](const FakeAdapter::Call&) { return Reauth(); });
  SECTION("refresh fails") { alpha->SetReauthenticates(false); }
  SECTION("refresh works but the token is refused again") { alpha->SetReauthenticates(true); }
  env.Consent(env.Subject("a@example.com"), "email_marketing", true);
  auto d = env.MakeDispatcher({}, {{"alpha", alpha}});
  REQUIRE(*d->RunOnce("alpha") == 1);
  CHECK(alpha->reauths() == 1);
  OutboxRow row = OnlyRow(env, "alpha");
  CHECK(row.state == RowState::kDead);
  CHECK(row.last_code == "auth_failed");
  REQUIRE(env.Entries("delivery.outcome").size() == 1);
  CHECK(nlohmann::json::parse(env.Entries("delivery.outcome")[0])["code"] == "auth_failed");
}

TEST_CASE("an accepted job is confirmed by polling, and its reference is recorded") {
  PropagationEnv env;
  auto alpha = Fake();
  int polls = 0;
  alpha->SetScript([&](const FakeAdapter::Call& c) {
    if (!c.confirm) return c.request.op == adapters::Operation::kErase ? Accepted("job-42") : Done();
    CHECK(c.reference == "job-42");
    return ++polls < 3 ? Accepted("job-42") : Done();
  });
  domain::Sid sid = env.Subject("a@example.com");
  env.Erasure(sid, "r-1");
  env.Consent(sid, "email_marketing", true);  // waits behind the accepted erasure
  auto d = env.MakeDispatcher({}, {{"alpha", alpha}});
  REQUIRE(*d->RunOnce("alpha") == 1);
  std::vector<OutboxRow> rows = env.Rows("alpha");
  CHECK(rows[0].state == RowState::kAccepted);
  CHECK(rows[0].reference == "job-42");
  CHECK(rows[0].acked_ms > 0);
  CHECK(rows[1].attempts == 0);
  CHECK(env.Entries("delivery.outcome").empty());  // accepted is not final
  for (int i = 0; i < 20 && env.Rows("alpha")[0].state != RowState::kDone; ++i) {
    env.clock.Advance(10 * 60 * 1000);
    REQUIRE(d->RunOnce("alpha").ok());
  }
  rows = env.Rows("alpha");
  CHECK(rows[0].state == RowState::kDone);
  CHECK(rows[0].polls == 3);
  CHECK(rows[1].state == RowState::kDone);
  std::vector<std::string> outcomes = env.Entries("delivery.outcome");
  REQUIRE(outcomes.size() == 2);
  nlohmann::json j = nlohmann::json::parse(outcomes[0]);
  CHECK(j["op"] == "erase");
  CHECK(j["reference"] == "job-42");
  CHECK(j["request"] == "r-1");
}

TEST_CASE("a row that keeps failing goes dead after max_attempts with one failed outcome entry") {
  PropagationEnv env;
  auto alpha = Fake();
  alpha->SetScript([](const FakeAdapter::Call&) { return Retry(503); });
  env.Consent(env.Subject("a@example.com"), "email_marketing", true);
  DispatcherOptions o;
  o.max_attempts = 4;
  o.backoff = {100, 1000};
  auto d = env.MakeDispatcher(o, {{"alpha", alpha}});
  const uint64_t size_before = env.ledger().Size();
  for (int i = 0; i < 10; ++i) {
    REQUIRE(d->RunOnce("alpha").ok());
    env.clock.Advance(1000);
  }
  CHECK(alpha->calls().size() == 4);
  OutboxRow row = OnlyRow(env, "alpha");
  CHECK(row.state == RowState::kDead);
  CHECK(row.result == "failed");
  CHECK(row.last_status == 503);
  CHECK(row.last_code == "http_503");
  CHECK(env.ledger().Size() == size_before + 1);
  nlohmann::json j = nlohmann::json::parse(env.Entries("delivery.outcome")[0]);
  CHECK(j["result"] == "failed");
  CHECK(j["code"] == "http_503");
  CHECK(j["attempts"] == 4);
}

TEST_CASE("a row older than max_age goes dead without another attempt") {
  PropagationEnv env;
  auto alpha = Fake();
  env.Consent(env.Subject("a@example.com"), "email_marketing", true);
  DispatcherOptions o;
  o.max_age_ms = 3600 * 1000;
  env.clock.Advance(o.max_age_ms + 1);
  auto d = env.MakeDispatcher(o, {{"alpha", alpha}});
  REQUIRE(*d->RunOnce("alpha") == 1);
  CHECK(alpha->calls().empty());
  OutboxRow row = OnlyRow(env, "alpha");
  CHECK(row.state == RowState::kDead);
  CHECK(row.last_code == "max_age");
}

TEST_CASE("a permanent failure is dead at once, replay delivers it again and records a second outcome") {
  PropagationEnv env;
  auto alpha = Fake();
  bool broken = true;
  alpha->SetScript([&](const FakeAdapter::Call&) { return broken ? Permanent(400, "http_400") : Done(); });
  env.Consent(env.Subject("a@example.com"), "email_marketing", true);
  auto d = env.MakeDispatcher({}, {{"alpha", alpha}});
  REQUIRE(*d->RunOnce("alpha") == 1);
  OutboxRow row = OnlyRow(env, "alpha");
  REQUIRE(row.state == RowState::kDead);

  broken = false;
  REQUIRE(env.outbox().Replay(row.id).ok());
  OutboxRow replayed = OnlyRow(env, "alpha");
  CHECK(replayed.state == RowState::kPending);
  CHECK(replayed.attempts == 0);
  REQUIRE(*d->RunOnce("alpha") == 1);
  CHECK(OnlyRow(env, "alpha").state == RowState::kDone);
  std::vector<std::string> outcomes = env.Entries("delivery.outcome");
  REQUIRE(outcomes.size() == 2);
  CHECK(nlohmann::json::parse(outcomes[0])["result"] == "failed");
  CHECK(nlohmann::json::parse(outcomes[1])["result"] == "confirmed");
  // The same idempotency key: a replay is the same delivery.
  CHECK(alpha->calls()[0].request.idempotency_key == alpha->calls()[1].request.idempotency_key);

  CHECK(env.outbox().Replay(row.id).code() == StatusCode::kFailedPrecondition);  // done, not dead
  CHECK(env.outbox().Replay(9999).code() == StatusCode::kNotFound);
}

TEST_CASE("replaying a dead change that a later change of the same purpose superseded is refused") {
  PropagationEnv env;
  auto alpha = Fake();
  int n = 0;
  alpha->SetScript([&](const FakeAdapter::Call&) { return ++n == 1 ? Permanent(400, "http_400") : Done(); });
  domain::Sid sid = env.Subject("a@example.com");
  env.Consent(sid, "email_marketing", true);
  env.Consent(sid, "email_marketing", false);
  auto d = env.MakeDispatcher({}, {{"alpha", alpha}});
  REQUIRE(*d->RunOnce("alpha") == 2);  // the dead opt-in no longer blocks the opt-out
  std::vector<OutboxRow> rows = env.Rows("alpha");
  REQUIRE(rows[0].state == RowState::kDead);
  REQUIRE(rows[1].state == RowState::kDone);
  CHECK(env.outbox().Replay(rows[0].id).code() == StatusCode::kFailedPrecondition);
  Result<int64_t> all = env.outbox().ReplayDead("");
  REQUIRE(all.ok());
  CHECK(*all == 0);
}

TEST_CASE("discarding a dead letter records a discarded outcome, only dead rows can be discarded") {
  PropagationEnv env;
  auto alpha = Fake();
  alpha->SetScript([](const FakeAdapter::Call&) { return Permanent(422, "http_422"); });
  env.Consent(env.Subject("a@example.com"), "email_marketing", true);
  env.Consent(env.Subject("b@example.com"), "email_marketing", true);
  auto d = env.MakeDispatcher({}, {{"alpha", alpha}});
  REQUIRE(*d->RunOnce("alpha") == 2);
  std::vector<OutboxRow> rows = env.Rows("alpha");
  Result<service::DeliveryOutcome> out = env.outbox().Discard(rows[0].id);
  REQUIRE(out.ok());
  CHECK(out->result == service::DeliveryResult::kDiscarded);
  CHECK(env.Rows("alpha")[0].state == RowState::kDiscarded);
  CHECK(env.outbox().Discard(rows[0].id).status().code() == StatusCode::kFailedPrecondition);
  std::vector<std::string> outcomes = env.Entries("delivery.outcome");
  REQUIRE(outcomes.size() == 3);
  CHECK(nlohmann::json::parse(outcomes[2])["result"] == "discarded");

  // Replay of every dead row of the system: the other one.
  Result<int64_t> n = env.outbox().ReplayDead("alpha");
  REQUIRE(n.ok());
  CHECK(*n == 1);
  CHECK(env.Rows("alpha")[1].state == RowState::kPending);
}

TEST_CASE("a paused system gets nothing until it is resumed, rows accumulate meanwhile") {
  PropagationEnv env;
  auto alpha = Fake();
  REQUIRE(env.outbox().SetPaused("alpha", true).ok());
  env.Consent(env.Subject("a@example.com"), "email_marketing", true);
  auto d = env.MakeDispatcher({}, {{"alpha", alpha}});
  REQUIRE(*d->RunOnce("alpha") == 0);
  Result<SystemStatus> st = env.outbox().StatusOf("alpha");
  REQUIRE(st.ok());
  CHECK(st->paused);
  CHECK(st->queue_depth == 1);
  REQUIRE(env.outbox().SetPaused("alpha", false).ok());
  REQUIRE(*d->RunOnce("alpha") == 1);
  CHECK(OnlyRow(env, "alpha").state == RowState::kDone);
  CHECK(env.outbox().SetPaused("nope", true).code() == StatusCode::kNotFound);
}

TEST_CASE("rows of a shredded subject fail with subject_shredded and never reach the adapter") {
  PropagationEnv env;
  auto alpha = Fake();
  domain::Sid sid = env.Subject("gone@example.com");
  env.Consent(sid, "email_marketing", true);
  {
    std::lock_guard<std::mutex> lock(env.mu);
    env.shredded.insert(sid);
  }
  auto d = env.MakeDispatcher({}, {{"alpha", alpha}});
  REQUIRE(*d->RunOnce("alpha") == 1);
  CHECK(alpha->calls().empty());
  OutboxRow row = OnlyRow(env, "alpha");
  CHECK(row.state == RowState::kDead);
  CHECK(row.last_code == "subject_shredded");
}

TEST_CASE("a report that repeats the last delivered decision while a newer change is queued is an echo") {
  PropagationEnv env;
  auto alpha = Fake();
  domain::Sid sid = env.Subject("a@example.com");
  env.Consent(sid, "email_marketing", true);
  auto d = env.MakeDispatcher({}, {{"alpha", alpha}});
  REQUIRE(*d->RunOnce("alpha") == 1);  // granted delivered
  auto echo = [&](domain::Decision dec) {
    Result<bool> e = env.outbox().IsEcho("alpha", sid, "email_marketing", dec);
    REQUIRE(e.ok());
    return *e;
  };
  CHECK_FALSE(echo(domain::Decision::kGranted));  // nothing newer queued: a real report
  env.Consent(sid, "email_marketing", false);      // withdrawal queued
  CHECK(echo(domain::Decision::kGranted));         // the system repeats what it was told
  CHECK_FALSE(echo(domain::Decision::kWithdrawn));
  CHECK_FALSE(env.outbox().IsEcho("beta", sid, "email_marketing", domain::Decision::kGranted).value());
  REQUIRE(*d->RunOnce("alpha") == 1);
  CHECK_FALSE(echo(domain::Decision::kGranted));   // delivered: a granted report is news again
}

class RecordingListener final : public service::DeliveryListener {
 public:
  Status OnDeliveryOutcome(sqlite3*, const service::DeliveryOutcome& o) override {
    outcomes.push_back(o);
    return fail ? Status::Internal("listener refuses") : Status::Ok();
  }
  std::vector<service::DeliveryOutcome> outcomes;
  bool fail = false;
};

TEST_CASE("the delivery listener is told of each final outcome in its transaction, its error rolls it back") {
  PropagationEnv env;
  auto alpha = Fake();
  RecordingListener listener;
  env.outbox().SetListener(&listener);
  domain::Sid sid = env.Subject("a@example.com");
  uint64_t cause = env.Erasure(sid, "r-7");
  auto d = env.MakeDispatcher({}, {{"alpha", alpha}});

  listener.fail = true;
  const uint64_t size = env.ledger().Size();
  REQUIRE(*d->RunOnce("alpha") == 1);
  CHECK(env.ledger().Size() == size);  // no outcome entry
  OutboxRow row = OnlyRow(env, "alpha");
  CHECK(row.state == RowState::kPending);  // stays open: delivered again later

  listener.fail = false;
  env.clock.Advance(5000);
  REQUIRE(*d->RunOnce("alpha") >= 1);
  REQUIRE(listener.outcomes.size() == 2);
  const service::DeliveryOutcome& o = listener.outcomes.back();
  CHECK(o.system == "alpha");
  CHECK(o.kind == service::ChangeKind::kErasure);
  CHECK(o.request_id == "r-7");
  CHECK(o.cause_seq == cause);
  CHECK(o.result == service::DeliveryResult::kConfirmed);
  CHECK(o.outcome_seq == env.ledger().Size() - 1);
  CHECK(OnlyRow(env, "alpha").outcome_seq == o.outcome_seq);
}

TEST_CASE("Start returns rows left in flight by a crash to pending and delivers them") {
  PropagationEnv env;
  env.clock.Set(SystemClock::Get().NowMillis());
  auto alpha = Fake();
  env.Consent(env.Subject("a@example.com"), "email_marketing", true);
  Result<std::vector<int64_t>> claimed = env.outbox().Claim({OnlyRow(env, "alpha").id});
  REQUIRE(claimed.ok());
  REQUIRE(claimed->size() == 1);
  CHECK(OnlyRow(env, "alpha").state == RowState::kInFlight);
  // An in_flight row is not eligible: it belongs to a (crashed) worker.
  auto d = env.MakeDispatcher({}, {{"alpha", alpha}}, /*real_time=*/true);
  REQUIRE(d->Start().ok());
  CHECK(WaitFor([&] { return OnlyRow(env, "alpha").state == RowState::kDone; }));
  d->Stop();
  CHECK(alpha->calls().size() == 1);
}

TEST_CASE("a failing system does not hold up the others, and a Notify makes new rows go out at once") {
  PropagationEnv env;
  env.clock.Set(SystemClock::Get().NowMillis());
  auto alpha = Fake();
  auto beta = Fake();
  alpha->SetScript([](const FakeAdapter::Call&) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    return Retry(503);
  });
  DispatcherOptions o;
  o.backoff = {50, 200};
  o.max_attempts = 1000;
  auto d = env.MakeDispatcher(o, {{"alpha", alpha}, {"beta", beta}}, /*real_time=*/true);
  REQUIRE(d->Start().ok());
  std::vector<domain::Sid> sids;
  for (int i = 0; i < 40; ++i) sids.push_back(env.Subject("s" + std::to_string(i) + "@example.com"));
  for (const domain::Sid& sid : sids) {
    env.Consent(sid, "email_marketing", true);
    d->Notify();
  }
  auto done = [&](const std::string& system) {
    int n = 0;
    for (const OutboxRow& r : env.Rows(system)) n += r.state == RowState::kDone;
    return n;
  };
  CHECK(WaitFor([&] { return done("beta") == 40; }));
  CHECK(done("alpha") == 0);
  CHECK(alpha->calls().size() >= 2);
  d->Stop();
}

TEST_CASE("a pause written by another process is noticed within the poll interval") {
  PropagationEnv env;
  env.clock.Set(SystemClock::Get().NowMillis());
  auto alpha = Fake();
  DispatcherOptions o;
  o.poll_interval_ms = 100;
  auto d = env.MakeDispatcher(o, {{"alpha", alpha}}, /*real_time=*/true);
  REQUIRE(d->Start().ok());
  REQUIRE(env.outbox().SetPaused("alpha", true).ok());
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  env.Consent(env.Subject("a@example.com"), "email_marketing", true);
  d->Notify();
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  CHECK(alpha->calls().empty());
  REQUIRE(env.outbox().SetPaused("alpha", false).ok());
  CHECK(WaitFor([&] { return OnlyRow(env, "alpha").state == RowState::kDone; }, 5));
  d->Stop();
}

}  // namespace
}  // namespace consentd::propagation

namespace consentd::propagation {
namespace {

using domain::IdentifierType;

// alpha as a HubSpot system: its own ids are hubspot_contact identifiers.
void MakeAlphaHubSpot(PropagationEnv& env) {
  env.policy->systems["alpha"].kind = policies::SystemKind::kHubSpot;
  env.policy->systems["alpha"].options = policies::HubSpotOptions{};
}

TEST_CASE("a system id learned by a delivery is stored with its outcome and carried by the next delivery") {
  PropagationEnv env;
  MakeAlphaHubSpot(env);
  auto alpha = Fake();
  alpha->SetScript([](const FakeAdapter::Call& c) {
    adapters::Outcome o = Done();
    if (c.request.customer.system_id.empty()) o.system_id = "4711";  // found by a lookup
    return o;
  });
  domain::Sid sid = env.Subject("ada@example.com");
  env.Consent(sid, "email_marketing", true);
  env.Consent(sid, "email_marketing", false);
  auto d = env.MakeDispatcher({}, {{"alpha", alpha}});
  int learned_calls = 0;
  d->SetLearner([&](const domain::Sid& s, const domain::Identifier& learned, std::vector<ledger::NewEntry> entries,
                    ledger::WriteHook hook) -> Status {
    ++learned_calls;
    CHECK(s == sid);
    CHECK(learned.kind.type() == IdentifierType::kHubSpotContact);
    CHECK(learned.value == "4711");
    // The row's step comes through the learner: one transaction with the link.
    REQUIRE(entries.size() == 1);
    CHECK(entries[0].kind == "delivery.outcome");
    CHECK(entries[0].payload.find("4711") == std::string::npos);  // never in the ledger
    Status st = env.writer().Write(std::move(entries), std::move(hook));
    if (st.ok()) {
      std::lock_guard<std::mutex> lock(env.mu);
      env.identities[s].push_back(
          domain::NormalizedIdentifier{domain::IdentifierKind(IdentifierType::kHubSpotContact), "", learned.value});
    }
    return st;
  });

  REQUIRE(*d->RunOnce("alpha") == 2);  // the second row becomes eligible once the first is recorded
  std::vector<FakeAdapter::Call> calls = alpha->calls();
  REQUIRE(calls.size() == 2);
  CHECK(calls[0].request.customer.system_id.empty());
  CHECK(calls[1].request.customer.system_id == "4711");  // from the vault: no lookup needed
  CHECK(learned_calls == 1);                             // learned once, not again
  for (const OutboxRow& r : env.Rows("alpha")) CHECK(r.state == RowState::kDone);
  for (const std::string& e : env.Entries("delivery.outcome")) CHECK(e.find("4711") == std::string::npos);

  // Shredded: no identifiers are left (the registry drops the learned id
  // with the others, tests/identity/learned_id_test.cc); nothing is sent.
  {
    std::lock_guard<std::mutex> lock(env.mu);
    env.shredded.insert(sid);
  }
  env.Consent(sid, "email_marketing", true);
  REQUIRE(*d->RunOnce("alpha") == 1);
  CHECK(alpha->calls().size() == 2);
  CHECK(env.Rows("alpha").back().last_code == "subject_shredded");
}

TEST_CASE("when the learner's transaction fails the row stays open and is delivered again") {
  PropagationEnv env;
  MakeAlphaHubSpot(env);
  auto alpha = Fake();
  alpha->SetScript([](const FakeAdapter::Call&) {
    adapters::Outcome o = Done();
    o.system_id = "4711";
    return o;
  });
  domain::Sid sid = env.Subject("ada@example.com");
  env.Consent(sid, "email_marketing", true);
  auto d = env.MakeDispatcher({}, {{"alpha", alpha}});
  bool fail = true;
  d->SetLearner([&](const domain::Sid&, const domain::Identifier&, std::vector<ledger::NewEntry> entries,
                    ledger::WriteHook hook) -> Status {
    if (fail) return Status::IOError("disk full");
    return env.writer().Write(std::move(entries), std::move(hook));
  });
  REQUIRE(*d->RunOnce("alpha") == 1);
  CHECK(OnlyRow(env, "alpha").state == RowState::kPending);
  CHECK(env.Entries("delivery.outcome").empty());
  fail = false;
  env.clock.Advance(60000);
  REQUIRE(*d->RunOnce("alpha") == 1);
  CHECK(OnlyRow(env, "alpha").state == RowState::kDone);
  CHECK(env.Entries("delivery.outcome").size() == 1);
}

TEST_CASE("a WooCommerce id is learned under the site of the system's base URL, a Shopify id under its shop") {
  PropagationEnv env;
  env.policy->systems["alpha"].kind = policies::SystemKind::kWooCommerce;
  env.policy->systems["alpha"].options = policies::WooCommerceOptions{};
  env.policy->systems["alpha"].base_url = "https://Shop.Example.com/store";
  policies::ShopifyOptions shop;
  shop.shop_domain = "My-Shop.myshopify.com";
  env.policy->systems["beta"].kind = policies::SystemKind::kShopify;
  env.policy->systems["beta"].options = shop;
  auto fake = Fake();
  fake->SetScript([](const FakeAdapter::Call&) {
    adapters::Outcome o = Done();
    o.system_id = "77";
    return o;
  });
  env.Consent(env.Subject("ada@example.com"), "email_marketing", true);  // alpha and beta
  auto d = env.MakeDispatcher({}, {{"alpha", fake}, {"beta", fake}});
  std::vector<domain::Identifier> learned;
  d->SetLearner([&](const domain::Sid&, const domain::Identifier& id, std::vector<ledger::NewEntry> entries,
                    ledger::WriteHook hook) -> Status {
    learned.push_back(id);
    return env.writer().Write(std::move(entries), std::move(hook));
  });
  REQUIRE(*d->RunOnce("alpha") == 1);
  REQUIRE(*d->RunOnce("beta") == 1);
  REQUIRE(learned.size() == 2);
  CHECK(learned[0].kind.type() == IdentifierType::kWooCommerceCustomer);
  CHECK(learned[0].qualifier == "https://Shop.Example.com/store");  // the registry normalizes it
  CHECK(learned[1].kind.type() == IdentifierType::kShopifyCustomer);
  CHECK(learned[1].qualifier == "my-shop.myshopify.com");
}

TEST_CASE("a webhook system or an id the vault already had learns nothing") {
  PropagationEnv env;
  auto beta = Fake();  // a webhook: no ids of its own
  beta->SetScript([](const FakeAdapter::Call&) {
    adapters::Outcome o = Done();
    o.system_id = "4711";
    return o;
  });
  domain::Sid sid = env.Subject("ada@example.com");
  env.Consent(sid, "email_marketing", true);
  auto d = env.MakeDispatcher({}, {{"beta", beta}});
  int learned_calls = 0;
  d->SetLearner([&](const domain::Sid&, const domain::Identifier&, std::vector<ledger::NewEntry> entries,
                    ledger::WriteHook hook) -> Status {
    ++learned_calls;
    return env.writer().Write(std::move(entries), std::move(hook));
  });
  REQUIRE(*d->RunOnce("beta") == 1);
  CHECK(learned_calls == 0);
  CHECK(OnlyRow(env, "beta").state == RowState::kDone);

  // A HubSpot system whose id for the subject the vault already holds.
  PropagationEnv env2;
  MakeAlphaHubSpot(env2);
  domain::Sid known = env2.Subject("bob@example.com");
  env2.identities[known].push_back(
      domain::NormalizedIdentifier{domain::IdentifierKind(IdentifierType::kHubSpotContact), "", "55"});
  env2.Consent(known, "email_marketing", true);
  auto alpha = Fake();
  alpha->SetScript([](const FakeAdapter::Call& c) {
    adapters::Outcome o = Done();
    o.system_id = c.request.customer.system_id;
    return o;
  });
  auto d2 = env2.MakeDispatcher({}, {{"alpha", alpha}});
  d2->SetLearner([&](const domain::Sid&, const domain::Identifier&, std::vector<ledger::NewEntry> entries,
                     ledger::WriteHook hook) -> Status {
    ++learned_calls;
    return env2.writer().Write(std::move(entries), std::move(hook));
  });
  REQUIRE(*d2->RunOnce("alpha") == 1);
  REQUIRE(alpha->calls().size() == 1);
  CHECK(alpha->calls()[0].request.customer.system_id == "55");
  CHECK(learned_calls == 0);
}

TEST_CASE("a policy reload starts a lane for a new system and stops a removed system's lane, whose rows wait") {
  PropagationEnv env;
  env.clock.Set(SystemClock::Get().NowMillis());
  auto alpha = Fake();
  auto beta = Fake();
  DispatcherOptions o;
  o.poll_interval_ms = 20;
  auto d = env.MakeDispatcher(o, {{"alpha", alpha}}, /*real_time=*/true);
  REQUIRE(d->Start().ok());
  domain::Sid first = env.Subject("first@example.com");
  env.Consent(first, "email_marketing", true);  // rows for alpha and beta
  d->Notify();
  REQUIRE(WaitFor([&] { return OnlyRow(env, "alpha").state == RowState::kDone; }));
  CHECK(OnlyRow(env, "beta").state == RowState::kPending);  // no lane yet

  DispatchTarget tb;
  tb.system = env.policy->systems.at("beta");
  tb.adapter = beta;
  Dispatcher::TargetChanges changes = d->SetTargets({tb});
  CHECK(changes.started == std::vector<std::string>{"beta"});
  CHECK(changes.stopped == std::vector<std::string>{"alpha"});
  REQUIRE(WaitFor([&] { return OnlyRow(env, "beta").state == RowState::kDone; }));

  domain::Sid second = env.Subject("second@example.com");
  env.Consent(second, "email_marketing", true);
  d->Notify();
  REQUIRE(WaitFor([&] { return beta->calls().size() == 2; }));
  std::this_thread::sleep_for(std::chrono::milliseconds(200));  // several polls of a lane, were there one
  CHECK(alpha->calls().size() == 1);
  CHECK(env.Rows("alpha").back().state == RowState::kPending);
  bool alpha_listed = false;
  for (const LaneInfo& l : d->Lanes()) {
    if (l.system == "alpha") {
      alpha_listed = true;
      CHECK_FALSE(l.available);
      CHECK(l.unavailable_reason == "not in the policy");
      CHECK(l.in_memory == 0);
    }
    if (l.system == "beta") CHECK(l.available);
  }
  CHECK(alpha_listed);

  // Back in the policy: the waiting row goes out.
  DispatchTarget ta;
  ta.system = env.policy->systems.at("alpha");
  ta.adapter = alpha;
  changes = d->SetTargets({ta, tb});
  CHECK(changes.started == std::vector<std::string>{"alpha"});
  CHECK(changes.stopped.empty());
  REQUIRE(WaitFor([&] { return env.Rows("alpha").back().state == RowState::kDone; }));
  CHECK(beta->calls().size() == 2);  // beta's lane kept running, nothing repeated
  d->Stop();
}

}  // namespace
}  // namespace consentd::propagation
