// The policy's tombstone rules (policies/tombstone_policy.h) in the erasure
// service: the erasure re-sent to a system that tries to re-create an erased
// person (that system only, rate-limited, its sealed identifiers shredded at
// the outcome), and every lift rule, allowed and refused, over the HTTP API
// (POST /v1/tombstones/lift) on a fake clock.
#include <catch2/catch.hpp>

#include <httplib.h>

#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "src/api/erasure_routes.h"
#include "src/base/time_format.h"
#include "src/http/server.h"
#include "src/obs/logger.h"
#include "src/obs/metrics.h"
#include "tests/erasure/canary_scan.h"
#include "tests/erasure/erasure_env.h"

namespace consentd::erasure {
namespace {

using nlohmann::json;
using service::DeliveryResult;
using testing::Email;
using testing::ErasureEnv;

constexpr int64_t kDay = 86'400'000;
constexpr int64_t kHour = 3'600'000;

service::ConsentEvent Event(const std::string& email, domain::ConsentMethod method, const std::string& system,
                            int64_t at) {
  service::ConsentEvent e;
  e.identifiers = {Email(email)};
  e.purpose = "email_marketing";
  e.decision = domain::Decision::kGranted;
  e.source.system = system;
  e.source.method = method;
  e.occurred_at_ms = at;
  return e;
}

// A sync from `system` that brings back `email` with the system's own id.
service::ConsentEvent Sync(const std::string& email, const std::string& system, int64_t at) {
  service::ConsentEvent e = Event(email, domain::ConsentMethod::kSync, system, at);
  e.identifiers.push_back(domain::Identifier{*domain::IdentifierKind::Parse("hubspot_contact"), "9001", ""});
  return e;
}

void SetTombstones(ErasureEnv& env, const policies::TombstonePolicy& t) {
  auto p = std::make_shared<policies::PolicySet>(*env.policy());
  p->tombstones = t;
  env.erasure().SetPolicy(p);
}

// Files, confirms and shreds an erasure of `email`; returns its id.
std::string Erase(ErasureEnv& env, const std::string& email) {
  const std::string id = env.FileVerified(email);
  env.ConfirmAll(id);
  REQUIRE(env.erasure().ProcessReady().ok());
  Result<ErasureRequest> r = env.erasure().Get(id);
  REQUIRE(r.ok());
  REQUIRE(r->shredded_ms > 0);
  return id;
}

std::vector<service::Change> Resends(ErasureEnv& env) {
  std::vector<service::Change> out;
  for (const service::Change& c : env.fan_out().changes()) {
    if (!c.target_system.empty()) out.push_back(c);
  }
  return out;
}

// The final outcome of a re-send, as the dispatcher reports it.
void DeliverResend(ErasureEnv& env, const service::Change& c, DeliveryResult result) {
  service::DeliveryOutcome o;
  o.outbox_id = 9000 + c.seq;
  o.system = c.target_system;
  o.kind = service::ChangeKind::kErasure;
  o.sid = c.sid;
  o.cause_seq = c.seq;
  o.request_id = c.request_id;
  o.result = result;
  o.time_ms = env.clock().NowMillis();
  Result<std::vector<ledger::AppendedEntry>> a = env.ledger().Append(
      {{"delivery.outcome", "{\"request\":\"" + c.request_id + "\",\"system\":\"" + c.target_system + "\"}"}},
      [&](sqlite3* db, std::span<const ledger::AppendedEntry> appended) {
        o.outcome_seq = appended[0].seq;
        return env.erasure().OnDeliveryOutcome(db, o);
      });
  REQUIRE(a.ok());
}

TEST_CASE("A system that re-creates an erased person is sent the erasure again, and only that system",
          "[erasure][tombstones][resend]") {
  ErasureEnv env;
  const std::string email = "Quentin.Resend-7XQ@Erase-Example.org";
  const std::string id = Erase(env, email);
  const size_t changes_before = env.fan_out().changes().size();

  Result<service::RecordResult> back = env.consents().Record(Sync(email, "hubspot", env.clock().NowMillis()));
  REQUIRE(back.status().code() == StatusCode::kFailedPrecondition);

  // One more change: an erasure for hubspot alone, in the request's name,
  // caused by the recreation_blocked entry.
  REQUIRE(env.fan_out().changes().size() == changes_before + 1);
  std::vector<service::Change> resends = Resends(env);
  REQUIRE(resends.size() == 1);
  const service::Change c = resends[0];
  CHECK(c.kind == service::ChangeKind::kErasure);
  CHECK(c.target_system == "hubspot");
  CHECK(c.request_id == id);
  CHECK(c.sid != env.erasure().Get(id)->sid);  // a pseudonym of the re-send, not the erased subject
  std::vector<std::string> blocked = env.Payloads("erasure.recreation_blocked");
  REQUIRE(blocked.size() == 1);
  json b = json::parse(blocked[0]);
  CHECK(b["resend"] == true);
  CHECK(b["source_system"] == "hubspot");
  CHECK(blocked[0].find("Resend") == std::string::npos);
  Result<ErasureRequest> r = env.erasure().Get(id);
  REQUIRE(r->resends.size() == 1);
  CHECK(r->resends[0].system == "hubspot");
  CHECK(r->resends[0].status == "pending");
  bool indexed = false;
  for (const EntryRef& e : r->entries) indexed = indexed || (e.seq == c.seq && e.kind == "erasure.recreation_blocked");
  CHECK(indexed);
  CHECK(r->resends[0].cause_seq == c.seq);

  // The delivery reads the identifiers the system sent (as it knows them).
  Result<std::vector<domain::NormalizedIdentifier>> ids = env.erasure().ResendIdentifiers(c.sid);
  REQUIRE(ids.ok());
  REQUIRE(ids->size() == 2);
  CHECK((*ids)[0].kind.Name() == "email");
  CHECK((*ids)[0].value == "quentin.resend-7xq@erase-example.org");
  CHECK((*ids)[1].kind.Name() == "hubspot_contact");
  CHECK((*ids)[1].value == "9001");
  // Sealed in the vault, never in clear, even before the outcome.
  CHECK(testing::ScanForValue(env.data_dir(), "quentin.resend-7xq@erase-example.org").empty());

  // The outcome is recorded under the request and the identifiers shredded.
  DeliverResend(env, c, DeliveryResult::kConfirmed);
  r = env.erasure().Get(id);
  REQUIRE(r->resends.size() == 1);
  CHECK(r->resends[0].status == "confirmed");
  CHECK(r->resends[0].outcome_seq > c.seq);
  bool outcome_indexed = false;
  for (const EntryRef& e : r->entries) outcome_indexed = outcome_indexed || e.kind == "resend:hubspot";
  CHECK(outcome_indexed);
  CHECK(env.erasure().ResendIdentifiers(c.sid).status().code() == StatusCode::kNotFound);
  CHECK(env.registry().vault().SubjectKey(c.sid).status().code() == StatusCode::kNotFound);
  REQUIRE(env.erasure().ProcessReady().ok());  // the WAL checkpoint of the deletion
  // The erasure's own progress rows are untouched.
  for (const SystemProgress& p : r->systems) CHECK(p.status == "confirmed");
}

TEST_CASE("Re-sending is rate-limited per tombstone and system", "[erasure][tombstones][resend]") {
  ErasureEnv env;
  const std::string email = "rita@example.com";
  Erase(env, email);
  policies::TombstonePolicy t;
  t.resend_min_interval_ms = 2 * kHour;
  SetTombstones(env, t);

  // A sync loop: ten attempts in a minute give one re-send.
  for (int i = 0; i < 10; ++i) {
    CHECK(env.consents().Record(Sync(email, "hubspot", env.clock().NowMillis())).status().code() ==
          StatusCode::kFailedPrecondition);
    env.clock().Advance(6'000);
  }
  CHECK(Resends(env).size() == 1);
  std::vector<std::string> blocked = env.Payloads("erasure.recreation_blocked");
  REQUIRE(blocked.size() == 10);  // every attempt is still recorded
  CHECK(json::parse(blocked[0]).value("resend", false));
  CHECK_FALSE(json::parse(blocked[1]).contains("resend"));

  // Another system has its own allowance.
  CHECK(env.consents().Record(Event(email, domain::ConsentMethod::kSync, "klaviyo", env.clock().NowMillis()))
            .status()
            .code() == StatusCode::kFailedPrecondition);
  REQUIRE(Resends(env).size() == 2);
  CHECK(Resends(env)[1].target_system == "klaviyo");

  // Just before the interval: still nothing; after it: once more.
  env.clock().Advance(2 * kHour - 2 * 60'000);
  CHECK_FALSE(env.consents().Record(Sync(email, "hubspot", env.clock().NowMillis())).ok());
  CHECK(Resends(env).size() == 2);
  env.clock().Advance(3 * 60'000);
  CHECK_FALSE(env.consents().Record(Sync(email, "hubspot", env.clock().NowMillis())).ok());
  REQUIRE(Resends(env).size() == 3);
  CHECK(Resends(env)[2].target_system == "hubspot");
}

TEST_CASE("No re-send when the policy turns it off, nor for attempts without a policy system",
          "[erasure][tombstones][resend]") {
  ErasureEnv env;
  Erase(env, "sam@example.com");
  // API and import attempts name no system; a system the policy does not
  // declare cannot be delivered to.
  CHECK_FALSE(env.consents().Record(Event("sam@example.com", domain::ConsentMethod::kApi, "", env.clock().NowMillis())).ok());
  CHECK_FALSE(
      env.consents().Record(Event("sam@example.com", domain::ConsentMethod::kSync, "unknown-crm", env.clock().NowMillis())).ok());
  CHECK(Resends(env).empty());

  policies::TombstonePolicy off;
  off.resend_erasure_on_recreation = false;
  SetTombstones(env, off);
  CHECK_FALSE(env.consents().Record(Sync("sam@example.com", "hubspot", env.clock().NowMillis())).ok());
  CHECK(Resends(env).empty());
  // Still recorded (the API attempt and this one; an undeclared system is
  // refused before the tombstones are looked at).
  CHECK(env.Payloads("erasure.recreation_blocked").size() == 2);
}

TEST_CASE("A failed re-send is recorded and its identifiers are shredded all the same", "[erasure][tombstones][resend]") {
  ErasureEnv env;
  const std::string id = Erase(env, "tara@example.com");
  CHECK_FALSE(env.consents().Record(Sync("tara@example.com", "hubspot", env.clock().NowMillis())).ok());
  REQUIRE(Resends(env).size() == 1);
  const service::Change c = Resends(env)[0];
  DeliverResend(env, c, DeliveryResult::kFailed);
  Result<ErasureRequest> r = env.erasure().Get(id);
  REQUIRE(r->resends.size() == 1);
  CHECK(r->resends[0].status == "failed");
  CHECK(env.erasure().ResendIdentifiers(c.sid).status().code() == StatusCode::kNotFound);
  CHECK(r->state == RequestState::kCompleted);  // the request's own outcome does not change
}

// ---- lifting over the API ---------------------------------------------------

constexpr const char* kOfficerToken = "officer-token";

struct LiftApi {
  ErasureEnv env;
  obs::MetricsRegistry metrics;
  obs::Logger logger{obs::LogLevel::kError};
  std::unique_ptr<http::HttpServer> server;
  std::unique_ptr<httplib::Client> client;
  int64_t erased_at = 0;

  explicit LiftApi(const policies::TombstoneLiftRules& lift) {
    policies::TombstonePolicy t;
    t.lift = lift;
    SetTombstones(env, t);
    Erase(env, "uma@example.com");
    erased_at = env.clock().NowMillis();
    http::ServerOptions o;
    o.port = 0;
    o.threads = 2;
    server = std::make_unique<http::HttpServer>(
        o,
        [](std::string_view token) -> Result<auth::Principal> {
          if (token != kOfficerToken) return Status::NotFound("no such token");
          return auth::Principal{"t1", "officer", {auth::Scope::Officer()}};
        },
        metrics, logger);
    api::RegisterErasureRoutes(*server, env.erasure(), &env.signer(), env.clock());
    REQUIRE(server->Start().ok());
    client = std::make_unique<httplib::Client>("127.0.0.1", server->port());
    client->set_read_timeout(30, 0);
  }
  ~LiftApi() { server->Stop(); }

  // POST /v1/tombstones/lift for uma@example.com; returns (status, body).
  std::pair<int, json> Lift(const std::string& method, int64_t occurred_at_ms, const std::string& evidence) {
    json body = {{"identifiers", {{{"kind", "email"}, {"value", "uma@example.com"}}}},
                 {"method", method},
                 {"occurred_at", FormatTimestampMillis(occurred_at_ms)}};
    if (!evidence.empty()) body["evidence_ref"] = evidence;
    httplib::Result res = client->Post("/v1/tombstones/lift", {{"Authorization", std::string("Bearer ") + kOfficerToken}},
                                       body.dump(), "application/json");
    REQUIRE(res);
    return {res->status, json::parse(res->body, nullptr, false)};
  }
  bool Tombstoned() {
    return env.consents().Record(Event("uma@example.com", domain::ConsentMethod::kSignupForm, "",
                                       env.clock().NowMillis())).status().code() == StatusCode::kFailedPrecondition;
  }
};

TEST_CASE("Lifting: the default rules take a first-party opt-in with evidence dated after the erasure",
          "[erasure][tombstones][lift][api]") {
  LiftApi a{policies::TombstoneLiftRules{}};
  a.env.clock().Advance(kDay);
  auto [sync_status, sync] = a.Lift("sync", a.erased_at + kHour, "notice-v3");
  CHECK(sync_status == 409);
  CHECK_THAT(sync.value("detail", ""), Catch::Contains("sync may not lift a tombstone"));
  auto [before_status, before] = a.Lift("signup_form", a.erased_at - kHour, "notice-v3");
  CHECK(before_status == 409);
  CHECK_THAT(before.value("detail", ""), Catch::Contains("dated after the erasure"));
  auto [bare_status, bare] = a.Lift("signup_form", a.erased_at + kHour, "");
  CHECK(bare_status == 400);
  CHECK(bare.value("field", "") == "/evidence_ref");
  auto [future_status, future] = a.Lift("signup_form", a.env.clock().NowMillis() + kDay, "notice-v3");
  CHECK(future_status == 400);
  CHECK(future.value("field", "") == "/occurred_at");
  CHECK(a.Tombstoned());
  auto [ok_status, ok] = a.Lift("double_opt_in", a.erased_at + kHour, "notice-v3");
  CHECK(ok_status == 200);
  CHECK(ok.value("lifted", 0) == 1);
  CHECK_FALSE(a.Tombstoned());
}

TEST_CASE("Lifting: lift.allowed false refuses every opt-in", "[erasure][tombstones][lift][api]") {
  policies::TombstoneLiftRules never;
  never.allowed = false;
  LiftApi a{never};
  a.env.clock().Advance(400 * kDay);
  auto [status, body] = a.Lift("double_opt_in", a.erased_at + 300 * kDay, "notice-v3");
  CHECK(status == 409);
  CHECK_THAT(body.value("detail", ""), Catch::Contains("tombstones.lift.allowed is false"));
  CHECK(a.Tombstoned());
  CHECK(a.env.Payloads("tombstone.lifted").empty());
}

TEST_CASE("Lifting: lift.require_evidence false takes an opt-in without an evidence reference",
          "[erasure][tombstones][lift][api]") {
  policies::TombstoneLiftRules no_evidence;
  no_evidence.require_evidence = false;
  LiftApi a{no_evidence};
  a.env.clock().Advance(kDay);
  auto [bad_status, bad] = a.Lift("signup_form", a.erased_at + kHour, "Free Text");  // still a code when given
  CHECK(bad_status == 400);
  CHECK(bad.value("field", "") == "/evidence_ref");
  auto [status, body] = a.Lift("signup_form", a.erased_at + kHour, "");
  CHECK(status == 200);
  CHECK(body.value("lifted", 0) == 1);
  json lifted = json::parse(a.env.Payloads("tombstone.lifted").at(0));
  CHECK(lifted["evidence"] == "");
}

TEST_CASE("Lifting: lift.allowed_sources decides which source methods may lift", "[erasure][tombstones][lift][api]") {
  policies::TombstoneLiftRules sources;
  sources.allowed_sources = {domain::ConsentMethod::kDoubleOptIn, domain::ConsentMethod::kSupportAgent};
  LiftApi a{sources};
  a.env.clock().Advance(kDay);
  auto [refused_status, refused] = a.Lift("signup_form", a.erased_at + kHour, "notice-v3");  // a default source, not listed
  CHECK(refused_status == 409);
  CHECK_THAT(refused.value("detail", ""), Catch::Contains("the policy allows double_opt_in, support_agent"));
  CHECK(a.Tombstoned());
  auto [status, body] = a.Lift("support_agent", a.erased_at + kHour, "ticket-4711");
  CHECK(status == 200);
  CHECK(body.value("lifted", 0) == 1);
  CHECK(json::parse(a.env.Payloads("tombstone.lifted").at(0))["method"] == "support_agent");
}

TEST_CASE("Lifting: lift.min_days_after_erasure refuses opt-ins dated too soon after the erasure",
          "[erasure][tombstones][lift][api]") {
  policies::TombstoneLiftRules wait;
  wait.min_days_after_erasure = 30;
  LiftApi a{wait};
  a.env.clock().Advance(40 * kDay);
  auto [soon_status, soon] = a.Lift("signup_form", a.erased_at + 30 * kDay - 1000, "notice-v3");
  CHECK(soon_status == 409);
  CHECK_THAT(soon.value("detail", ""), Catch::Contains("at least 30 days after the erasure"));
  CHECK(a.Tombstoned());
  auto [status, body] = a.Lift("signup_form", a.erased_at + 30 * kDay, "notice-v3");
  CHECK(status == 200);
  CHECK(body.value("lifted", 0) == 1);
}

TEST_CASE("Lifting: malformed, forged and replayed lift requests change nothing", "[erasure][tombstones][lift][api]") {
  LiftApi a{policies::TombstoneLiftRules{}};
  a.env.clock().Advance(kDay);
  const httplib::Headers auth = {{"Authorization", std::string("Bearer ") + kOfficerToken}};
  CHECK(a.client->Post("/v1/tombstones/lift", auth, "{not json", "application/json")->status == 400);
  CHECK(a.client->Post("/v1/tombstones/lift", auth, R"({"identifiers":[],"method":"signup_form"})", "application/json")
            ->status == 400);
  CHECK(a.client->Post("/v1/tombstones/lift", auth, std::string(2 << 20, ' '), "application/json")->status == 413);
  CHECK(a.client->Post("/v1/tombstones/lift", {{"Authorization", "Bearer forged"}}, "{}", "application/json")->status ==
        401);
  auto [bad_method, body] = a.Lift("telepathy", a.erased_at + kHour, "notice-v3");
  CHECK(bad_method == 400);
  CHECK(a.Tombstoned());
  // Replayed: the second lift finds nothing left to lift.
  CHECK(a.Lift("signup_form", a.erased_at + kHour, "notice-v3").second.value("lifted", -1) == 1);
  CHECK(a.Lift("signup_form", a.erased_at + kHour, "notice-v3").second.value("lifted", -1) == 0);
  CHECK(a.env.Payloads("tombstone.lifted").size() == 1);
}

}  // namespace
}  // namespace consentd::erasure
