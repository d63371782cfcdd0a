// The real Klaviyo adapter over HttplibTransport against the Klaviyo emulator
// process (tests/emulators/klaviyo_emulator.cc): each operation, the jobs
// completing later, each way the service can fail, and the final state.
#include <catch2/catch.hpp>

#include <nlohmann/json.hpp>

#include <chrono>
#include <thread>

#include "adapters/factory.h"
#include "adapters/http_transport.h"
#include "tests/emulators/emulator_process.h"

namespace consentd::adapters {
namespace {

using emulators::EmulatorProcess;
using nlohmann::json;

struct Env {
  explicit Env(KlaviyoSettings s = {}, int timeout_ms = 5000) {
    emu = EmulatorProcess::Start("klaviyo");
    REQUIRE(emu != nullptr);
    emu->Seed({{"api_key", "pk_emulated"}, {"job_delay_ms", 100}});
    config.system_id = "klaviyo-test";
    config.base_url = emu->base_url();
    config.api_version = "2024-10-15";
    config.credentials = {{"api_key", "pk_emulated"}};
    config.timeout_ms = timeout_ms;
    config.settings = s;
    auto made = MakeAdapter("klaviyo", config, transport, SystemClock::Get());
    REQUIRE(made.ok());
    adapter = std::move(made).value();
  }
  // The emulator's state once every queued job has completed (bounded wait).
  json SettledState() const {
    json state;
    for (int i = 0; i < 100; ++i) {
      state = emu->State();
      bool queued = false;
      for (const json& j : state["jobs"]) queued = queued || j["status"] == "queued";
      if (!queued) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return state;
  }
  json Profile(const std::string& email) const {
    const json state = SettledState();
    for (const json& p : state["profiles"]) {
      if (p["email"] == email) return p;
    }
    return nullptr;
  }
  std::unique_ptr<EmulatorProcess> emu;
  AdapterConfig config;
  std::shared_ptr<HttpTransport> transport = std::make_shared<HttplibTransport>();
  std::unique_ptr<Adapter> adapter;
};

Request Consent(const std::string& email, bool granted, const std::string& channel = "email") {
  Request r;
  r.op = Operation::kSetConsent;
  r.purpose = channel + "_marketing";
  r.channel = channel;
  r.granted = granted;
  r.idempotency_key = "k1";
  r.customer.email = email;
  r.customer.phone = "+15005550006";
  return r;
}

Request Erase(const std::string& email) {
  Request r;
  r.op = Operation::kErase;
  r.idempotency_key = "k2";
  r.customer.email = email;
  return r;
}

TEST_CASE("Klaviyo emulator: opt-in, opt-out, opt-in end subscribed to the list", "[klaviyo][emulator]") {
  KlaviyoSettings s;
  s.list_id = "Y6nRLr";
  Env env(s);
  CHECK(env.adapter->Deliver(Consent("jane@example.com", true)).cls == OutcomeClass::kDone);
  CHECK(env.adapter->Deliver(Consent("jane@example.com", false)).cls == OutcomeClass::kDone);
  CHECK(env.adapter->Deliver(Consent("jane@example.com", true)).cls == OutcomeClass::kDone);
  CHECK(env.adapter->Deliver(Consent("jane@example.com", true, "sms")).cls == OutcomeClass::kDone);
  json p = env.Profile("jane@example.com");
  REQUIRE(p.is_object());
  CHECK(p["subscriptions"]["email"] == "SUBSCRIBED");
  CHECK(p["subscriptions"]["sms"] == "SUBSCRIBED");
  CHECK(p["phone_number"] == "+15005550006");
  CHECK(p["lists"] == json::array({"Y6nRLr"}));
  CHECK(p["suppression"].is_null());
  CHECK(env.SettledState()["jobs"].size() == 4);

  Outcome lookup;
  CHECK(env.adapter->Lookup(Consent("jane@example.com", true).customer, &lookup) == p["id"].get<std::string>());
  CHECK(env.adapter->Lookup(Consent("nobody@example.com", true).customer, &lookup) == std::string());
}

TEST_CASE("Klaviyo emulator: a global email unsubscribe leaves every list and suppresses", "[klaviyo][emulator]") {
  Env env;
  env.emu->Seed({{"profiles", {{{"email", "jane@example.com"}, {"subscriptions", {{"email", "SUBSCRIBED"}}},
                                {"lists", {"L1", "L2"}}}}}});
  CHECK(env.adapter->Deliver(Consent("jane@example.com", false)).cls == OutcomeClass::kDone);
  json p = env.Profile("jane@example.com");
  CHECK(p["subscriptions"]["email"] == "UNSUBSCRIBED");
  CHECK(p["lists"].empty());
  CHECK(p["suppression"] == "UNSUBSCRIBE");
}

TEST_CASE("Klaviyo emulator: a suppression job is accepted, then confirmed when it completes", "[klaviyo][emulator]") {
  KlaviyoSettings s;
  s.suppress_on_email_withdrawal = true;
  Env env(s);
  env.emu->Seed({{"job_delay_ms", 300}});
  Request withdraw = Consent("jane@example.com", false);
  Outcome out = env.adapter->Deliver(withdraw);
  REQUIRE(out.cls == OutcomeClass::kAccepted);
  REQUIRE_FALSE(out.reference.empty());
  Outcome confirm = env.adapter->Confirm(withdraw, out.reference);
  CHECK(confirm.cls == OutcomeClass::kAccepted);  // within the job delay
  for (int i = 0; i < 100 && confirm.cls == OutcomeClass::kAccepted; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    confirm = env.adapter->Confirm(withdraw, out.reference);
  }
  CHECK(confirm.cls == OutcomeClass::kDone);
  CHECK(confirm.code == "job_complete");
  CHECK(env.Profile("jane@example.com")["suppression"] == "USER_SUPPRESSED");
  Outcome unknown = env.adapter->Confirm(withdraw, "01J999999");
  CHECK(unknown.cls == OutcomeClass::kPermanent);
  CHECK(unknown.code == "job_not_found");

  // A later grant lifts the suppression.
  CHECK(env.adapter->Deliver(Consent("jane@example.com", true)).cls == OutcomeClass::kDone);
  json p = env.Profile("jane@example.com");
  CHECK(p["suppression"].is_null());
  CHECK(p["subscriptions"]["email"] == "SUBSCRIBED");
}

TEST_CASE("Klaviyo emulator: erasure deletes the profile, a second erase is already done", "[klaviyo][emulator]") {
  Env env;
  env.emu->Seed({{"job_delay_ms", 300}, {"profiles", {{{"email", "jane@example.com"}}}}});
  Outcome out = env.adapter->Deliver(Erase("jane@example.com"));
  CHECK(out.cls == OutcomeClass::kDone);
  CHECK(out.http_status == 202);
  // While the deletion is pending: 409, already scheduled.
  CHECK(env.adapter->Deliver(Erase("jane@example.com")).cls == OutcomeClass::kAlreadyDone);
  json state = env.SettledState();
  CHECK(state["profiles"].empty());
  CHECK(state["deleted_profiles"].size() == 1);
  Outcome again = env.adapter->Deliver(Erase("jane@example.com"));
  CHECK(again.cls == OutcomeClass::kAlreadyDone);
  CHECK(again.code == "not_found");
}

TEST_CASE("Klaviyo emulator: faults become retry, permanent and malformed outcomes", "[klaviyo][emulator]") {
  Env env(KlaviyoSettings{}, 300);
  SECTION("throttled, with Retry-After") {
    env.emu->SetFaults({{"throttle_next", 1}, {"retry_after", "2"}});
    Outcome out = env.adapter->Deliver(Consent("jane@example.com", true));
    CHECK(out.cls == OutcomeClass::kRetry);
    CHECK(out.code == "throttled");
    CHECK(out.retry_after_ms == 2000);
    CHECK(env.SettledState()["jobs"].empty());
  }
  SECTION("an expired or wrong key is permanent") {
    env.emu->SetFaults({{"expire_tokens", true}});
    Outcome out = env.adapter->Deliver(Consent("jane@example.com", true));
    CHECK(out.cls == OutcomeClass::kPermanent);
    CHECK(out.code == "not_authenticated");
  }
  SECTION("a malformed 200") {
    env.emu->SetFaults({{"malformed_next", 1}});
    Outcome out = env.adapter->Deliver(Consent("jane@example.com", true));
    CHECK(out.cls == OutcomeClass::kRetry);
    CHECK(out.code == "malformed_response");
  }
  SECTION("5xx") {
    env.emu->SetFaults({{"error_rate", 1.0}, {"error_status", 500}});
    CHECK(env.adapter->Deliver(Erase("jane@example.com")).cls == OutcomeClass::kRetry);
  }
  SECTION("a dropped connection") {
    env.emu->SetFaults({{"drop_rate", 1.0}});
    Outcome out = env.adapter->Deliver(Consent("jane@example.com", true));
    CHECK(out.cls == OutcomeClass::kRetry);
    CHECK(out.http_status == 0);
  }
  SECTION("a timeout") {
    env.emu->SetFaults({{"timeout_rate", 1.0}, {"hang_ms", 1500}});
    Outcome out = env.adapter->Deliver(Consent("jane@example.com", true));
    CHECK(out.cls == OutcomeClass::kRetry);
    CHECK(out.code == "timeout");
  }
}

TEST_CASE("Klaviyo emulator: rapid opt-in/opt-out under faults, each retried in order, ends in the last decision",
          "[klaviyo][emulator]") {
  Env env(KlaviyoSettings{}, 1000);
  env.emu->SetFaults({{"error_rate", 0.3}, {"drop_rate", 0.1}, {"throttle_next", 2}, {"seed", 7}});
  int retries = 0;
  bool granted = true;
  for (int i = 0; i < 15; ++i) {
    granted = i % 2 == 0;
    Outcome out;
    for (int attempt = 0; attempt < 50; ++attempt) {
      out = env.adapter->Deliver(Consent("jane@example.com", granted));
      if (out.cls != OutcomeClass::kRetry) break;
      ++retries;
    }
    REQUIRE(out.cls == OutcomeClass::kDone);
  }
  CHECK(retries >= 2);
  env.emu->SetFaults(json::object());
  CHECK(env.Profile("jane@example.com")["subscriptions"]["email"] == (granted ? "SUBSCRIBED" : "UNSUBSCRIBED"));
  CHECK(env.SettledState()["jobs"].size() == 15);
}

}  // namespace
}  // namespace consentd::adapters
