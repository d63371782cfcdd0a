// The real HubSpot adapter over HttplibTransport against the HubSpot
// emulator process (tests/emulators/hubspot_emulator.cc): each operation,
// and each way the service can answer or fail. Checks the emulator's state.
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

struct Env {
  explicit Env(std::string api = "v4", int timeout_ms = 5000) {
    emu = EmulatorProcess::Start("hubspot");
    REQUIRE(emu != nullptr);
    emu->Seed({{"contacts", {{{"id", "101"}, {"email", "jane@example.com"}}, {{"id", "102"}, {"email", "o'brien+x@example.com"}}}},
               {"subscription_types", {"7", "8"}}});
    config.system_id = "hubspot-test";
    config.base_url = emu->base_url();
    config.api_version = "v3";
    config.credentials = {{"access_token", "pat-na1-test"}};
    config.timeout_ms = timeout_ms;
    HubSpotSettings s;
    s.subscription_ids = {{"email_marketing", "7"}, {"product_news", "8"}};
    s.preferences_api = std::move(api);
    config.settings = s;
    auto made = MakeAdapter("hubspot", config, transport, SystemClock::Get());
    REQUIRE(made.ok());
    adapter = std::move(made).value();
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

TEST_CASE("HubSpot emulator: v4 opt-in, opt-out and re-subscribe end in the last decision", "[hubspot][emulator]") {
  Env env;
  CHECK(env.adapter->Deliver(Consent("jane@example.com", true)).cls == OutcomeClass::kDone);
  CHECK(env.adapter->Deliver(Consent("jane@example.com", false)).cls == OutcomeClass::kDone);
  CHECK(env.adapter->Deliver(Consent("jane@example.com", true)).cls == OutcomeClass::kDone);
  CHECK(env.adapter->Deliver(Consent("o'brien+x@example.com", false, "product_news")).cls == OutcomeClass::kDone);
  json state = env.emu->State();
  CHECK(state["subscriptions"]["jane@example.com"]["7"] == "SUBSCRIBED");
  CHECK(state["subscriptions"]["o'brien+x@example.com"]["8"] == "NOT_SUBSCRIBED");
  REQUIRE(state["history"].size() == 4);
  CHECK(state["history"][1]["status"] == "NOT_SUBSCRIBED");
  CHECK(state["history"][2]["api"] == "v4");
}

TEST_CASE("HubSpot emulator: v3 cannot re-subscribe an address that opted out", "[hubspot][emulator]") {
  Env env("v3");
  CHECK(env.adapter->Deliver(Consent("jane@example.com", true)).cls == OutcomeClass::kDone);
  CHECK(env.adapter->Deliver(Consent("jane@example.com", false)).cls == OutcomeClass::kDone);
  Outcome again = env.adapter->Deliver(Consent("jane@example.com", true));
  CHECK(again.cls == OutcomeClass::kPermanent);
  CHECK(again.code == "resubscribe_refused");
  CHECK(again.code.find('@') == std::string::npos);
  CHECK(env.emu->State()["subscriptions"]["jane@example.com"]["7"] == "NOT_SUBSCRIBED");
}

TEST_CASE("HubSpot emulator: GDPR delete removes the contact and blocklists the address", "[hubspot][emulator]") {
  Env env;
  CHECK(env.adapter->Deliver(Consent("jane@example.com", true)).cls == OutcomeClass::kDone);
  Outcome o = env.adapter->Deliver(Erase("jane@example.com", "101"));
  CHECK(o.cls == OutcomeClass::kDone);
  CHECK(o.http_status == 204);
  json state = env.emu->State();
  CHECK(state["gdpr_deleted"] == json{"101"});
  CHECK(state["blocklist"] == json{"jane@example.com"});
  CHECK_FALSE(state["subscriptions"].contains("jane@example.com"));
  REQUIRE(state["contacts"].size() == 1);
  CHECK(state["contacts"][0]["id"] == "102");

  // Status writes for a blocklisted address are refused, and never retried.
  Outcome resub = env.adapter->Deliver(Consent("jane@example.com", true));
  CHECK(resub.cls == OutcomeClass::kPermanent);
  CHECK(resub.code == "VALIDATION_ERROR");
}

TEST_CASE("HubSpot emulator: GDPR delete of an unknown address still blocklists it, an unknown id is already done",
          "[hubspot][emulator]") {
  Env env;
  CHECK(env.adapter->Deliver(Erase("ghost@example.com")).cls == OutcomeClass::kDone);
  Outcome by_id = env.adapter->Deliver(Erase("", "999"));
  CHECK(by_id.cls == OutcomeClass::kAlreadyDone);
  CHECK(by_id.code == "not_found");
  json state = env.emu->State();
  CHECK(state["blocklist"] == json{"ghost@example.com"});
  CHECK(state["contacts"].size() == 2);
}

TEST_CASE("HubSpot emulator: deleting twice by id is already done the second time", "[hubspot][emulator]") {
  Env env;
  CHECK(env.adapter->Deliver(Erase("", "102")).cls == OutcomeClass::kDone);
  CHECK(env.adapter->Deliver(Erase("", "102")).cls == OutcomeClass::kAlreadyDone);
  CHECK(env.emu->State()["blocklist"] == json{"o'brien+x@example.com"});
}

TEST_CASE("HubSpot emulator: Lookup finds a contact by email, including quotes and plus signs", "[hubspot][emulator]") {
  Env env;
  Customer c;
  c.email = "o'brien+x@example.com";
  Outcome o;
  auto id = env.adapter->Lookup(c, &o);
  REQUIRE(id.has_value());
  CHECK(*id == "102");
  c.email = "nobody@example.com";
  id = env.adapter->Lookup(c, &o);
  REQUIRE(id.has_value());
  CHECK(id->empty());
}

TEST_CASE("HubSpot emulator: throttled answers are retried with the policy and Retry-After", "[hubspot][emulator]") {
  Env env;
  env.emu->SetFaults({{"throttle_next", 1}, {"retry_after", "2"}});
  Outcome o = env.adapter->Deliver(Consent("jane@example.com", true));
  CHECK(o.cls == OutcomeClass::kRetry);
  CHECK(o.http_status == 429);
  CHECK(o.code == "rate_limit_ten_secondly");
  CHECK(o.retry_after_ms == 2000);

  env.emu->Seed({{"throttle_policy", "DAILY"}});
  env.emu->SetFaults({{"throttle_next", 1}, {"retry_after", ""}});
  Outcome daily = env.adapter->Deliver(Erase("jane@example.com"));
  CHECK(daily.cls == OutcomeClass::kRetry);
  CHECK(daily.code == "rate_limit_daily");
  CHECK(daily.retry_after_ms == 3600000);
  CHECK(env.emu->Stats()["throttled"] == 2);
  // Nothing was applied while throttled.
  json state = env.emu->State();
  CHECK(state["history"].empty());
  CHECK(state["gdpr_delete_requests"] == 0);
}

TEST_CASE("HubSpot emulator: an expired token fails permanently and cannot be refreshed", "[hubspot][emulator]") {
  Env env;
  env.emu->SetFaults({{"expire_tokens", true}});
  Outcome o = env.adapter->Deliver(Consent("jane@example.com", true));
  CHECK(o.cls == OutcomeClass::kPermanent);
  CHECK(o.code == "auth_failed");
  CHECK(o.http_status == 401);
  CHECK_FALSE(env.adapter->Reauthenticate());
}

TEST_CASE("HubSpot emulator: a wrong token is refused", "[hubspot][emulator]") {
  Env env;
  env.emu->Seed({{"access_token", "pat-na1-other"}});
  CHECK(env.adapter->Deliver(Erase("jane@example.com")).code == "auth_failed");
  CHECK(env.emu->State()["gdpr_delete_requests"] == 0);
}

TEST_CASE("HubSpot emulator: a malformed 200 is retried, and the retry applies the change", "[hubspot][emulator]") {
  Env env;
  env.emu->SetFaults({{"malformed_next", 1}});
  Outcome o = env.adapter->Deliver(Consent("jane@example.com", false));
  CHECK(o.cls == OutcomeClass::kRetry);
  CHECK(o.code == "malformed_response");
  CHECK(env.adapter->Deliver(Consent("jane@example.com", false)).cls == OutcomeClass::kDone);
  CHECK(env.emu->State()["subscriptions"]["jane@example.com"]["7"] == "NOT_SUBSCRIBED");
}

TEST_CASE("HubSpot emulator: 5xx, dropped connections and timeouts are retried", "[hubspot][emulator]") {
  Env env("v4", 300);
  env.emu->SetFaults({{"error_rate", 1.0}, {"error_status", 502}});
  Outcome e = env.adapter->Deliver(Consent("jane@example.com", true));
  CHECK(e.cls == OutcomeClass::kRetry);
  CHECK(e.code == "http_502");

  env.emu->SetFaults({{"drop_rate", 1.0}});
  Outcome d = env.adapter->Deliver(Consent("jane@example.com", true));
  CHECK(d.cls == OutcomeClass::kRetry);
  CHECK(d.code == "connection_dropped");

  env.emu->SetFaults({{"timeout_rate", 1.0}, {"hang_ms", 1500}});
  Outcome t = env.adapter->Deliver(Erase("jane@example.com"));
  CHECK(t.cls == OutcomeClass::kRetry);
  CHECK(t.code == "timeout");

  env.emu->SetFaults(json::object());
  CHECK(env.adapter->Deliver(Consent("jane@example.com", true)).cls == OutcomeClass::kDone);
}

TEST_CASE("HubSpot emulator: a system that is down is retried", "[hubspot][emulator]") {
  Env env;
  env.emu->Kill();
  Outcome o = env.adapter->Deliver(Consent("jane@example.com", true));
  CHECK(o.cls == OutcomeClass::kRetry);
  CHECK(o.code == "connection_refused");
}

TEST_CASE("HubSpot emulator: one adapter serves several threads at once", "[hubspot][emulator]") {
  Env env;
  env.emu->SetFaults({{"latency_ms", 20}});  // requests overlap
  constexpr int kThreads = 6, kEach = 20;
  std::atomic<int> done{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kEach; ++i) {
        Request r = Consent("user" + std::to_string(t) + "-" + std::to_string(i) + "@example.com", i % 2 == 0);
        if (env.adapter->Deliver(r).cls == OutcomeClass::kDone) ++done;
      }
    });
  }
  for (auto& th : threads) th.join();
  CHECK(done == kThreads * kEach);
  json state = env.emu->State();
  CHECK(state["history"].size() == kThreads * kEach);
  CHECK(state["subscriptions"]["user3-1@example.com"]["7"] == "NOT_SUBSCRIBED");
  CHECK(env.emu->Stats()["max_in_flight"].get<int>() > 1);
}

}  // namespace
}  // namespace consentd::adapters
