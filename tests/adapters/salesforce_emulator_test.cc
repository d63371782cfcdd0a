// The real Salesforce adapter over HttplibTransport against the Salesforce
// emulator process (tests/emulators/salesforce_emulator.cc): each operation,
// the OAuth refresh, and each way the service can answer or fail. Checks the
// emulator's state.
#include <atomic>
#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>
#include <thread>
#include <vector>

#include "adapters/factory.h"
#include "adapters/http_transport.h"
#include "tests/emulators/emulator_process.h"

namespace consentd::adapters {
namespace {

using emulators::EmulatorProcess;
using nlohmann::json;

const std::string kJane = "003000000000001AAA";
const std::string kJaneDup = "003000000000002AAA";
const std::string kObrien = "003000000000003AAA";
const std::string kLead = "00Q000000000001AAA";
const std::string kInd = "0PK000000000001AAA";

struct Env {
  explicit Env(bool refreshable = true, int timeout_ms = 5000, bool privacy_enabled = true) {
    emu = EmulatorProcess::Start("salesforce");
    REQUIRE(emu != nullptr);
    json records = {
        {{"type", "Contact"}, {"Id", kJane}, {"Email", "Jane@Example.com"}, {"HasOptedOutOfEmail", false}},
        {{"type", "Contact"}, {"Id", kJaneDup}, {"Email", "jane@example.com"}, {"HasOptedOutOfEmail", false}},
        {{"type", "Contact"}, {"Id", kObrien}, {"Email", "o'brien@example.com"}, {"HasOptedOutOfEmail", false}},
        {{"type", "Lead"}, {"Id", kLead}, {"Email", "lead@example.com"}, {"HasOptedOutOfEmail", false}},
    };
    if (privacy_enabled) {
      records[0]["IndividualId"] = kInd;
      records[1]["IndividualId"] = kInd;
      records.push_back({{"type", "Individual"}, {"Id", kInd}, {"LastName", "Doe"}, {"HasOptedOutProfiling", false}});
    }
    emu->Seed({{"records", records},
               {"privacy_enabled", privacy_enabled},
               {"oauth", {{"client_id", "cid"}, {"client_secret", "csecret"}, {"refresh_token", "rt"}}},
               {"consent_status_values", {"OptIn", "OptOut"}}});
    config.system_id = "sf-test";
    config.base_url = emu->base_url();
    config.api_version = "v60.0";
    config.credentials = {{"access_token", "initial-token"}};
    if (refreshable) {
      config.credentials["client_id"] = "cid";
      config.credentials["client_secret"] = "csecret";
      config.credentials["refresh_token"] = "rt";
    }
    config.timeout_ms = timeout_ms;
    SalesforceSettings s;
    s.fields["email_marketing"] = {"HasOptedOutOfEmail", true};
    s.fields["profiling"] = {"Individual.HasOptedOutProfiling", true};
    s.fields["email_consent"] = {"ContactPointTypeConsent.Email", true};
    s.fields["bogus"] = {"No_Such_Field__x", true};
    config.settings = s;
    adapter = Make(config);
  }
  std::unique_ptr<Adapter> Make(const AdapterConfig& c) {
    auto made = MakeAdapter("salesforce", c, transport, SystemClock::Get());
    REQUIRE(made.ok());
    return std::move(made).value();
  }
  json Record(const std::string& type, const std::string& id) {
    const json state = emu->State();
    for (const json& r : state["records"][type]) {
      if (r["Id"] == id) return r;
    }
    return nullptr;
  }
  std::unique_ptr<EmulatorProcess> emu;
  AdapterConfig config;
  std::shared_ptr<HttpTransport> transport = std::make_shared<HttplibTransport>();
  std::unique_ptr<Adapter> adapter;
};

Request Consent(const std::string& email, bool granted, const std::string& purpose = "email_marketing") {
  Request r;
  r.op = Operation::kSetConsent;
  r.purpose = purpose;
  r.channel = "email";
  r.granted = granted;
  r.occurred_at_ms = 1700000000000;
  r.idempotency_key = "k1";
  r.customer.email = email;
  return r;
}

Request Erase(const std::string& email, const std::string& id = "") {
  Request r;
  r.op = Operation::kErase;
  r.idempotency_key = "k2";
  r.customer.email = email;
  r.customer.system_id = id;
  return r;
}

TEST_CASE("Salesforce emulator: an opt-out reaches every Contact with the email, an opt-in reverts it",
          "[salesforce][emulator]") {
  Env env;
  Outcome o = env.adapter->Deliver(Consent("jane@example.com", false));
  CHECK(o.cls == OutcomeClass::kDone);
  CHECK(o.system_id == kJane);
  CHECK(env.Record("Contact", kJane)["HasOptedOutOfEmail"] == true);
  CHECK(env.Record("Contact", kJaneDup)["HasOptedOutOfEmail"] == true);
  CHECK(env.Record("Contact", kObrien)["HasOptedOutOfEmail"] == false);
  CHECK(env.adapter->Deliver(Consent("jane@example.com", true)).cls == OutcomeClass::kDone);
  CHECK(env.Record("Contact", kJane)["HasOptedOutOfEmail"] == false);
  CHECK(env.emu->State()["history"].size() == 4);
}

TEST_CASE("Salesforce emulator: an email with a quote is found through the escaped SOQL literal",
          "[salesforce][emulator]") {
  Env env;
  CHECK(env.adapter->Deliver(Consent("o'brien@example.com", false)).cls == OutcomeClass::kDone);
  CHECK(env.Record("Contact", kObrien)["HasOptedOutOfEmail"] == true);
  // An injection attempt matches nothing instead of everything.
  Outcome o = env.adapter->Deliver(Consent("x' OR Email != 'y", false));
  CHECK(o.cls == OutcomeClass::kDone);
  CHECK(o.code == "not_found");
  CHECK(env.Record("Contact", kJane)["HasOptedOutOfEmail"] == false);
}

TEST_CASE("Salesforce emulator: Lead objects are updated when configured", "[salesforce][emulator]") {
  Env env;
  AdapterConfig c = env.config;
  auto s = std::get<SalesforceSettings>(c.settings);
  s.object = "Lead";
  c.settings = s;
  auto leads = env.Make(c);
  CHECK(leads->Deliver(Consent("lead@example.com", false)).cls == OutcomeClass::kDone);
  CHECK(env.Record("Lead", kLead)["HasOptedOutOfEmail"] == true);
}

TEST_CASE("Salesforce emulator: Individual fields and ContactPointTypeConsent records", "[salesforce][emulator]") {
  Env env;
  CHECK(env.adapter->Deliver(Consent("jane@example.com", false, "profiling")).cls == OutcomeClass::kDone);
  CHECK(env.Record("Individual", kInd)["HasOptedOutProfiling"] == true);

  CHECK(env.adapter->Deliver(Consent("jane@example.com", true, "email_consent")).cls == OutcomeClass::kDone);
  CHECK(env.adapter->Deliver(Consent("jane@example.com", false, "email_consent")).cls == OutcomeClass::kDone);
  json cptc = env.emu->State()["records"]["ContactPointTypeConsent"];
  REQUIRE(cptc.size() == 1);  // created once, then updated
  CHECK(cptc[0]["PartyId"] == kInd);
  CHECK(cptc[0]["ContactPointType"] == "Email");
  CHECK(cptc[0]["PrivacyConsentStatus"] == "OptOut");
  CHECK(cptc[0]["CaptureSource"] == "consentd");
}

TEST_CASE("Salesforce emulator: a status value the org's picklist lacks fails permanently", "[salesforce][emulator]") {
  Env env;
  AdapterConfig c = env.config;
  auto s = std::get<SalesforceSettings>(c.settings);
  s.status_granted = "Opted_In";
  c.settings = s;
  Outcome o = env.Make(c)->Deliver(Consent("jane@example.com", true, "email_consent"));
  CHECK(o.cls == OutcomeClass::kPermanent);
  CHECK(o.code == "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST");
}

TEST_CASE("Salesforce emulator: an unknown field fails permanently with INVALID_FIELD", "[salesforce][emulator]") {
  Env env;
  Outcome o = env.adapter->Deliver(Consent("jane@example.com", false, "bogus"));
  CHECK(o.cls == OutcomeClass::kPermanent);
  CHECK(o.code == "INVALID_FIELD");
  CHECK(o.http_status == 400);
}

TEST_CASE("Salesforce emulator: erase flags the Individual and deletes every Contact, again is already done",
          "[salesforce][emulator]") {
  Env env;
  Outcome o = env.adapter->Deliver(Erase("jane@example.com", kJane));
  CHECK(o.cls == OutcomeClass::kDone);
  json state = env.emu->State();
  CHECK(state["deleted"]["Contact"] == json({kJane, kJaneDup}));
  CHECK(env.Record("Individual", kInd)["ShouldForget"] == true);
  CHECK(env.Record("Contact", kJane).is_null());

  Outcome again = env.adapter->Deliver(Erase("jane@example.com", kJane));
  CHECK(again.cls == OutcomeClass::kAlreadyDone);
  CHECK(again.code == "not_found");
  CHECK(env.adapter->Deliver(Consent("jane@example.com", false)).code == "not_found");
}

TEST_CASE("Salesforce emulator: erase in an org without Individuals still deletes", "[salesforce][emulator]") {
  Env env(true, 5000, false);
  CHECK(env.adapter->Deliver(Erase("o'brien@example.com")).cls == OutcomeClass::kDone);
  CHECK(env.emu->State()["deleted"]["Contact"] == json({kObrien}));
}

TEST_CASE("Salesforce emulator: Lookup by email", "[salesforce][emulator]") {
  Env env;
  Customer c;
  c.email = "JANE@example.com";
  Outcome o;
  auto id = env.adapter->Lookup(c, &o);
  REQUIRE(id.has_value());
  CHECK(*id == kJane);
  c.email = "nobody@example.com";
  id = env.adapter->Lookup(c, &o);
  REQUIRE(id.has_value());
  CHECK(id->empty());
}

TEST_CASE("Salesforce emulator: expired tokens ask to re-authenticate, the refreshed token works",
          "[salesforce][emulator]") {
  Env env;
  env.emu->SetFaults({{"expire_tokens", true}});
  Outcome o = env.adapter->Deliver(Consent("jane@example.com", false));
  CHECK(o.cls == OutcomeClass::kReauthenticate);
  CHECK(o.code == "INVALID_SESSION_ID");
  CHECK(o.http_status == 401);
  REQUIRE(env.adapter->Reauthenticate());
  CHECK(env.adapter->Deliver(Consent("jane@example.com", false)).cls == OutcomeClass::kDone);
  CHECK(env.emu->State()["tokens_issued"] == 1);
  CHECK(env.Record("Contact", kJane)["HasOptedOutOfEmail"] == true);

  // The old token no longer works anywhere: a second adapter with it must refresh too.
  auto stale = env.Make(env.config);
  CHECK(stale->Deliver(Consent("jane@example.com", true)).cls == OutcomeClass::kReauthenticate);
}

TEST_CASE("Salesforce emulator: a refresh with a revoked refresh token fails", "[salesforce][emulator]") {
  Env env;
  AdapterConfig c = env.config;
  c.credentials["refresh_token"] = "revoked";
  CHECK_FALSE(env.Make(c)->Reauthenticate());
  CHECK(env.emu->State()["tokens_issued"] == 0);
}

TEST_CASE("Salesforce emulator: without refresh credentials an expired session is final", "[salesforce][emulator]") {
  Env env(false);
  env.emu->SetFaults({{"expire_tokens", true}});
  Outcome o = env.adapter->Deliver(Erase("jane@example.com"));
  CHECK(o.cls == OutcomeClass::kPermanent);
  CHECK(o.code == "auth_failed");
  CHECK_FALSE(env.adapter->Reauthenticate());
  CHECK(env.emu->State()["deleted"]["Contact"].empty());
}

TEST_CASE("Salesforce emulator: REQUEST_LIMIT_EXCEEDED is retried and changes nothing", "[salesforce][emulator]") {
  Env env;
  env.emu->SetFaults({{"throttle_next", 1}});
  Outcome o = env.adapter->Deliver(Erase("jane@example.com"));
  CHECK(o.cls == OutcomeClass::kRetry);
  CHECK(o.code == "REQUEST_LIMIT_EXCEEDED");
  CHECK(o.http_status == 403);
  CHECK(env.emu->Stats()["throttled"] == 1);
  CHECK(env.emu->State()["deleted"]["Contact"].empty());
  CHECK(env.adapter->Deliver(Erase("jane@example.com")).cls == OutcomeClass::kDone);
}

TEST_CASE("Salesforce emulator: a malformed query answer is retried", "[salesforce][emulator]") {
  Env env;
  env.emu->SetFaults({{"malformed_next", 1}});
  Outcome o = env.adapter->Deliver(Consent("jane@example.com", false));
  CHECK(o.cls == OutcomeClass::kRetry);
  CHECK(o.code == "malformed_response");
  CHECK(env.emu->State()["history"].empty());
}

TEST_CASE("Salesforce emulator: 5xx, dropped connections, timeouts and a dead system are retried",
          "[salesforce][emulator]") {
  Env env(true, 300);
  env.emu->SetFaults({{"error_rate", 1.0}, {"error_status", 503}});
  CHECK(env.adapter->Deliver(Consent("jane@example.com", false)).cls == OutcomeClass::kRetry);
  env.emu->SetFaults({{"drop_rate", 1.0}});
  CHECK(env.adapter->Deliver(Consent("jane@example.com", false)).code == "connection_dropped");
  env.emu->SetFaults({{"timeout_rate", 1.0}, {"hang_ms", 1500}});
  CHECK(env.adapter->Deliver(Consent("jane@example.com", false)).code == "timeout");
  env.emu->Kill();
  Outcome down = env.adapter->Deliver(Consent("jane@example.com", false));
  CHECK(down.cls == OutcomeClass::kRetry);
  CHECK(down.code == "connection_refused");
}

TEST_CASE("Salesforce emulator: threads that all hit an expired session share one refresh", "[salesforce][emulator]") {
  Env env;
  env.emu->SetFaults({{"expire_tokens", true}});
  constexpr int kThreads = 6;
  std::atomic<int> done{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&] {
      // The dispatcher's rule: on kReauthenticate, Reauthenticate() once, then retry.
      Outcome o = env.adapter->Deliver(Consent("jane@example.com", false));
      if (o.cls == OutcomeClass::kReauthenticate && env.adapter->Reauthenticate()) {
        o = env.adapter->Deliver(Consent("jane@example.com", false));
      }
      if (o.cls == OutcomeClass::kDone) ++done;
    });
  }
  for (auto& th : threads) th.join();
  CHECK(done == kThreads);
  // A thread whose 401 came back after another's refresh finished refreshes again: at most one per thread.
  CHECK(env.emu->State()["tokens_issued"].get<int>() >= 1);
  CHECK(env.emu->State()["tokens_issued"].get<int>() <= kThreads);
  CHECK(env.Record("Contact", kJane)["HasOptedOutOfEmail"] == true);
}

}  // namespace
}  // namespace consentd::adapters
