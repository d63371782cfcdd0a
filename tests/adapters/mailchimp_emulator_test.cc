// The real Mailchimp adapter over HttplibTransport against the Mailchimp
// emulator process (tests/emulators/mailchimp_emulator.cc): each operation,
// each way the service can answer or fail, and the emulator's final state.
#include <catch2/catch.hpp>

#include <nlohmann/json.hpp>

#include <atomic>
#include <chrono>
#include <latch>
#include <thread>
#include <vector>

#include "adapters/factory.h"
#include "adapters/http_transport.h"
#include "adapters/mailchimp.h"
#include "tests/emulators/emulator_process.h"

namespace consentd::adapters {
namespace {

using emulators::EmulatorProcess;
using nlohmann::json;

struct Env {
  explicit Env(MailchimpSettings s = {}, int timeout_ms = 5000) {
    emu = EmulatorProcess::Start("mailchimp");
    REQUIRE(emu != nullptr);
    emu->Seed({{"api_key", "secret-key-us6"}});
    config.system_id = "mailchimp-test";
    config.base_url = emu->base_url();
    config.api_version = "3.0";
    config.credentials = {{"api_key", "secret-key-us6"}};
    config.timeout_ms = timeout_ms;
    s.list_id = "L1";
    config.settings = s;
    auto made = MakeAdapter("mailchimp", config, transport, SystemClock::Get());
    REQUIRE(made.ok());
    adapter = std::move(made).value();
  }
  // The member of `email` in the emulator's state, or null.
  json Member(const std::string& email) const {
    const json state = emu->State();
    for (const json& m : state["members"]) {
      if (m["email_address"] == email) return m;
    }
    return nullptr;
  }
  std::unique_ptr<EmulatorProcess> emu;
  AdapterConfig config;
  std::shared_ptr<HttpTransport> transport = std::make_shared<HttplibTransport>();
  std::unique_ptr<Adapter> adapter;
};

Request Consent(const std::string& email, bool granted, const std::string& purpose = "newsletter") {
  Request r;
  r.op = Operation::kSetConsent;
  r.purpose = purpose;
  r.channel = "email";
  r.granted = granted;
  r.idempotency_key = "k1";
  r.customer.email = email;
  return r;
}

Request Erase(const std::string& email) {
  Request r;
  r.op = Operation::kErase;
  r.idempotency_key = "k2";
  r.customer.email = email;
  return r;
}

TEST_CASE("Mailchimp emulator: a grant adds a subscribed member, a withdrawal unsubscribes it",
          "[mailchimp][emulator]") {
  Env env;
  CHECK(env.adapter->Deliver(Consent("jane@example.com", true)).cls == OutcomeClass::kDone);
  json m = env.Member("jane@example.com");
  REQUIRE(m.is_object());
  CHECK(m["status"] == "subscribed");
  CHECK(m["id"] == MailchimpSubscriberHash("jane@example.com"));
  CHECK(m["list_id"] == "L1");
  CHECK(env.adapter->Deliver(Consent("jane@example.com", false)).cls == OutcomeClass::kDone);
  CHECK(env.Member("jane@example.com")["status"] == "unsubscribed");

  Outcome lookup;
  CHECK(env.adapter->Lookup(Consent("jane@example.com", true).customer, &lookup) ==
        MailchimpSubscriberHash("jane@example.com"));
  CHECK(env.adapter->Lookup(Consent("nobody@example.com", true).customer, &lookup) == std::string());
}

TEST_CASE("Mailchimp emulator: a withdrawal for an unknown email creates no member", "[mailchimp][emulator]") {
  Env env;
  Outcome out = env.adapter->Deliver(Consent("nobody@example.com", false));
  CHECK(out.cls == OutcomeClass::kDone);
  CHECK(out.code == "not_found");
  CHECK(env.emu->State()["members"].empty());
}

TEST_CASE("Mailchimp emulator: re-subscribing after an unsubscribe hits the compliance state",
          "[mailchimp][emulator]") {
  SECTION("by default the delivery fails permanently, and the member stays unsubscribed") {
    Env env;
    env.adapter->Deliver(Consent("jane@example.com", true));
    env.adapter->Deliver(Consent("jane@example.com", false));
    Outcome out = env.adapter->Deliver(Consent("jane@example.com", true));
    CHECK(out.cls == OutcomeClass::kPermanent);
    CHECK(out.code == "member_in_compliance_state");
    CHECK(out.code.find('@') == std::string::npos);
    CHECK(env.Member("jane@example.com")["status"] == "unsubscribed");
    CHECK(env.emu->State()["compliance_refusals"] == 1);
  }
  SECTION("with resubscribe_as_pending the member becomes pending (double opt-in)") {
    MailchimpSettings s;
    s.resubscribe_as_pending = true;
    Env env(s);
    env.adapter->Deliver(Consent("jane@example.com", true));
    env.adapter->Deliver(Consent("jane@example.com", false));
    Outcome out = env.adapter->Deliver(Consent("jane@example.com", true));
    CHECK(out.cls == OutcomeClass::kDone);
    CHECK(out.code == "pending_double_opt_in");
    CHECK(env.Member("jane@example.com")["status"] == "pending");
  }
}

TEST_CASE("Mailchimp emulator: marketing permissions follow their purposes", "[mailchimp][emulator]") {
  MailchimpSettings s;
  s.marketing_permission_ids = {{"email_marketing", "p_email"}, {"customized_ads", "p_ads"}};
  Env env(s);
  CHECK(env.adapter->Deliver(Consent("jane@example.com", true, "email_marketing")).cls == OutcomeClass::kDone);
  CHECK(env.adapter->Deliver(Consent("jane@example.com", true, "customized_ads")).cls == OutcomeClass::kDone);
  CHECK(env.adapter->Deliver(Consent("jane@example.com", false, "customized_ads")).cls == OutcomeClass::kDone);
  json m = env.Member("jane@example.com");
  CHECK(m["status"] == "subscribed");
  CHECK(m["marketing_permissions"] == json{{"p_email", true}, {"p_ads", false}});
}

TEST_CASE("Mailchimp emulator: permanent delete forgets the email, a second erase is already done",
          "[mailchimp][emulator]") {
  Env env;
  env.adapter->Deliver(Consent("jane@example.com", true));
  Outcome out = env.adapter->Deliver(Erase("jane@example.com"));
  CHECK(out.cls == OutcomeClass::kDone);
  CHECK(out.http_status == 204);
  json state = env.emu->State();
  CHECK(state["members"].empty());
  REQUIRE(state["forgotten"].size() == 1);
  CHECK(state["forgotten"][0]["id"] == MailchimpSubscriberHash("jane@example.com"));

  CHECK(env.adapter->Deliver(Erase("jane@example.com")).cls == OutcomeClass::kAlreadyDone);
  CHECK(env.adapter->Deliver(Erase("never@example.com")).cls == OutcomeClass::kAlreadyDone);
  // Mailchimp refuses to re-add a forgotten email.
  Outcome again = env.adapter->Deliver(Consent("jane@example.com", true));
  CHECK(again.cls == OutcomeClass::kPermanent);
  CHECK(again.code == "forgotten_email_not_subscribed");
  CHECK(env.emu->State()["members"].empty());
}

TEST_CASE("Mailchimp emulator: faults become retry, permanent and malformed outcomes", "[mailchimp][emulator]") {
  Env env(MailchimpSettings{}, 300);
  SECTION("throttled") {
    env.emu->SetFaults({{"throttle_next", 1}});
    Outcome out = env.adapter->Deliver(Consent("jane@example.com", true));
    CHECK(out.cls == OutcomeClass::kRetry);
    CHECK(out.code == "too_many_requests");
    CHECK(env.emu->State()["members"].empty());
    CHECK(env.adapter->Deliver(Consent("jane@example.com", true)).cls == OutcomeClass::kDone);
  }
  SECTION("an invalid or expired API key is permanent") {
    env.emu->SetFaults({{"expire_tokens", true}});
    Outcome out = env.adapter->Deliver(Consent("jane@example.com", true));
    CHECK(out.cls == OutcomeClass::kPermanent);
    CHECK(out.code == "api_key_invalid");
    CHECK(out.http_status == 401);
  }
  SECTION("a malformed 200") {
    env.emu->SetFaults({{"malformed_next", 1}});
    Outcome out = env.adapter->Deliver(Consent("jane@example.com", true));
    CHECK(out.cls == OutcomeClass::kRetry);
    CHECK(out.code == "malformed_response");
  }
  SECTION("5xx") {
    env.emu->SetFaults({{"error_rate", 1.0}, {"error_status", 503}});
    Outcome out = env.adapter->Deliver(Erase("jane@example.com"));
    CHECK(out.cls == OutcomeClass::kRetry);
    CHECK(out.code == "http_503");
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

TEST_CASE("Mailchimp emulator: more than 10 simultaneous requests are refused with 429", "[mailchimp][emulator]") {
  Env env;
  // Every request is held 1.5 s before it is served, and the 16 are sent
  // 25 ms apart (all at once would overflow the server's listen backlog of
  // 5, and the kernel would delay the excess connections by a SYN
  // retransmit of 1 s), so they all overlap even on a loaded machine.
  env.emu->SetFaults({{"latency_ms", 1500}});
  constexpr int kThreads = 16;
  std::atomic<int> done{0}, retry{0};
  std::latch start(kThreads);
  std::vector<std::thread> threads;
  for (int i = 0; i < kThreads; ++i) {
    threads.emplace_back([&, i] {
      // One transport per thread: each request has its own connection.
      auto transport = std::make_shared<HttplibTransport>();
      auto made = MakeAdapter("mailchimp", env.config, transport, SystemClock::Get());
      start.arrive_and_wait();
      std::this_thread::sleep_for(std::chrono::milliseconds(25 * i));
      if (!made.ok()) return;
      Outcome out = made.value()->Deliver(Consent("user" + std::to_string(i) + "@example.com", true));
      if (out.cls == OutcomeClass::kDone) ++done;
      if (out.cls == OutcomeClass::kRetry && out.code == "too_many_requests") ++retry;
    });
  }
  for (auto& t : threads) t.join();
  INFO("emulator stats: " << env.emu->Stats().dump());
  CHECK(done + retry == kThreads);
  CHECK(retry >= 1);
  CHECK(done >= 1);
  json state = env.emu->State();
  CHECK(state["concurrency_refusals"] == retry.load());
  CHECK(state["members"].size() == static_cast<size_t>(done.load()));
}

TEST_CASE("Mailchimp emulator: rapid opt-in/opt-out under faults, each retried in order, ends in the last decision",
          "[mailchimp][emulator]") {
  MailchimpSettings s;
  s.resubscribe_as_pending = true;  // re-subscribes after the first opt-out become double opt-ins
  Env env(s, 1000);
  env.emu->SetFaults(
      {{"error_rate", 0.3}, {"drop_rate", 0.1}, {"throttle_next", 2}, {"malformed_next", 1}, {"seed", 3}});
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
  CHECK(retries >= 3);
  env.emu->SetFaults(json::object());
  CHECK(env.Member("jane@example.com")["status"] == (granted ? "pending" : "unsubscribed"));
}

}  // namespace
}  // namespace consentd::adapters
