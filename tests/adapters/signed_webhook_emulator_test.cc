// The real signed webhook adapter over HttplibTransport against the receiver
// emulator (tests/emulators/webhook_receiver_emulator.cc), which verifies
// signatures with its own HMAC: deliveries, replays, forged or stale
// signatures, a retired endpoint, and failures.
#include <catch2/catch.hpp>

#include <httplib.h>

#include <nlohmann/json.hpp>

#include "adapters/factory.h"
#include "adapters/http_transport.h"
#include "adapters/signed_webhook.h"
#include "tests/emulators/emulator_process.h"

namespace consentd::adapters {
namespace {

using emulators::EmulatorProcess;
using nlohmann::json;

struct Env {
  explicit Env(const Clock& clock = SystemClock::Get(), std::string path = "/hooks/consentd", int timeout_ms = 5000) {
    emu = EmulatorProcess::Start("webhook");
    REQUIRE(emu != nullptr);
    emu->Seed({{"secret", "whsec_emulated"}, {"gone_paths", {"/retired"}}});
    config.system_id = "crm-legacy";
    config.base_url = emu->base_url() + path;
    config.api_version = "v1";
    config.credentials = {{"signing_secret", "whsec_emulated"}};
    config.timeout_ms = timeout_ms;
    config.settings = SignedWebhookSettings{};
    auto made = MakeAdapter("webhook", config, transport, clock);
    REQUIRE(made.ok());
    adapter = std::move(made).value();
  }
  std::unique_ptr<EmulatorProcess> emu;
  AdapterConfig config;
  std::shared_ptr<HttpTransport> transport = std::make_shared<HttplibTransport>();
  std::unique_ptr<Adapter> adapter;
};

Request Consent(const std::string& id, bool granted) {
  Request r;
  r.op = Operation::kSetConsent;
  r.purpose = "email_marketing";
  r.channel = "email";
  r.granted = granted;
  r.occurred_at_ms = SystemClock::Get().NowMillis();
  r.idempotency_key = id;
  r.customer.email = "jane@example.com";
  return r;
}

TEST_CASE("Webhook receiver: signed events are verified and recorded in order, a replay is not recorded twice",
          "[webhook][emulator]") {
  Env env;
  CHECK(env.adapter->Deliver(Consent("evt_1", true)).cls == OutcomeClass::kDone);
  CHECK(env.adapter->Deliver(Consent("evt_2", false)).cls == OutcomeClass::kDone);
  Request erase;
  erase.op = Operation::kErase;
  erase.occurred_at_ms = SystemClock::Get().NowMillis();
  erase.idempotency_key = "evt_3";
  erase.customer.email = "jane@example.com";
  CHECK(env.adapter->Deliver(erase).cls == OutcomeClass::kDone);
  CHECK(env.adapter->Deliver(Consent("evt_2", false)).cls == OutcomeClass::kDone);  // a retry

  json state = env.emu->State();
  REQUIRE(state["events"].size() == 3);
  CHECK(state["events"][0]["path"] == "/hooks/consentd");
  CHECK(state["events"][0]["body"]["decision"] == "granted");
  CHECK(state["events"][1]["body"]["decision"] == "withdrawn");
  CHECK(state["events"][2]["body"]["type"] == "subject.erase");
  CHECK(state["events"][2]["body"]["customer"] == json{{"email", "jane@example.com"}});
  CHECK(state["duplicates"] == 1);
  CHECK(state["rejected"] == 0);
}

TEST_CASE("Webhook receiver: a wrong secret, a stale timestamp or a forged request is refused", "[webhook][emulator]") {
  SECTION("a wrong secret: 401, permanent") {
    Env env;
    env.emu->Seed({{"secret", "whsec_rotated"}});
    Outcome out = env.adapter->Deliver(Consent("evt_1", true));
    CHECK(out.cls == OutcomeClass::kPermanent);
    CHECK(out.http_status == 401);
    CHECK(env.emu->State()["events"].empty());
  }
  SECTION("a signature made ten minutes ago (replay window)") {
    FakeClock past(SystemClock::Get().NowMillis() - 600'000);
    Env env(past);
    CHECK(env.adapter->Deliver(Consent("evt_1", true)).http_status == 401);
    CHECK(env.emu->State()["rejected"] == 1);
  }
  SECTION("forged requests sent by hand") {
    Env env;
    httplib::Client client("127.0.0.1", env.emu->port());
    const std::string body = R"({"id":"evt_9","type":"consent.changed"})";
    const int64_t now = SystemClock::Get().NowMillis() / 1000;
    const std::string good = WebhookSignatureHeader("whsec_emulated", now, body);
    auto post = [&](const std::string& sig, const std::string& b) {
      httplib::Headers h;
      if (!sig.empty()) h.emplace("X-Consentd-Signature", sig);
      auto res = client.Post("/hooks", h, b, "application/json");
      return res ? res->status : 0;
    };
    CHECK(post("", body) == 401);                                   // no signature
    CHECK(post("t=" + std::to_string(now), body) == 401);           // no v1
    CHECK(post(good, body + " ") == 401);                           // body changed after signing
    // Tampered MAC: its last hex digit changed (to another digit: a fixed
    // "0" left the MAC intact whenever it already ended in 0, 1 time in 16).
    const char last = good.back() == '0' ? '1' : '0';
    CHECK(post(good.substr(0, good.size() - 1) + last, body) == 401);
    CHECK(post("t=" + std::to_string(now + 1) + good.substr(good.find(',')), body) == 401);  // timestamp changed
    CHECK(post(std::string(4000, 'v'), body) == 401);               // oversized garbage
    CHECK(post(good, body) == 200);
    CHECK(post(good, body) == 200);                                  // replayed: accepted once
    json state = env.emu->State();
    CHECK(state["events"].size() == 1);
    CHECK(state["duplicates"] == 1);
    CHECK(state["rejected"] == 6);
  }
}

TEST_CASE("Webhook receiver: a retired endpoint (410) is permanent, faults are retried", "[webhook][emulator]") {
  SECTION("410 Gone") {
    Env env(SystemClock::Get(), "/retired");
    Outcome out = env.adapter->Deliver(Consent("evt_1", true));
    CHECK(out.cls == OutcomeClass::kPermanent);
    CHECK(out.code == "gone");
  }
  Env env(SystemClock::Get(), "/hooks", 300);
  SECTION("throttled") {
    env.emu->SetFaults({{"throttle_next", 1}, {"retry_after", "0.5"}});
    Outcome out = env.adapter->Deliver(Consent("evt_1", true));
    CHECK(out.cls == OutcomeClass::kRetry);
    CHECK(out.retry_after_ms == 500);
  }
  SECTION("5xx") {
    env.emu->SetFaults({{"error_rate", 1.0}, {"error_status", 502}});
    CHECK(env.adapter->Deliver(Consent("evt_1", true)).cls == OutcomeClass::kRetry);
  }
  SECTION("a dropped connection") {
    env.emu->SetFaults({{"drop_rate", 1.0}});
    Outcome out = env.adapter->Deliver(Consent("evt_1", true));
    CHECK(out.cls == OutcomeClass::kRetry);
  }
  SECTION("a timeout") {
    env.emu->SetFaults({{"timeout_rate", 1.0}, {"hang_ms", 1500}});
    Outcome out = env.adapter->Deliver(Consent("evt_1", true));
    CHECK(out.cls == OutcomeClass::kRetry);
    CHECK(out.code == "timeout");
  }
  SECTION("a rotated secret (expire_tokens)") {
    env.emu->SetFaults({{"expire_tokens", true}});
    CHECK(env.adapter->Deliver(Consent("evt_1", true)).cls == OutcomeClass::kPermanent);
  }
  SECTION("the receiver is down") {
    env.emu->Kill();
    Outcome out = env.adapter->Deliver(Consent("evt_1", true));
    CHECK(out.cls == OutcomeClass::kRetry);
    CHECK(out.code == "connection_refused");
  }
}

TEST_CASE("Webhook receiver: rapid opt-in/opt-out under faults, each retried in order, arrive in order once each",
          "[webhook][emulator]") {
  Env env(SystemClock::Get(), "/hooks", 1000);
  env.emu->SetFaults({{"error_rate", 0.3}, {"drop_rate", 0.1}, {"throttle_next", 2}, {"seed", 5}});
  int retries = 0;
  for (int i = 0; i < 15; ++i) {
    Outcome out;
    for (int attempt = 0; attempt < 50; ++attempt) {
      out = env.adapter->Deliver(Consent("evt_" + std::to_string(i), i % 2 == 0));
      if (out.cls != OutcomeClass::kRetry) break;
      ++retries;
    }
    REQUIRE(out.cls == OutcomeClass::kDone);
  }
  CHECK(retries >= 2);
  env.emu->SetFaults(json::object());
  json state = env.emu->State();
  REQUIRE(state["events"].size() == 15);
  for (int i = 0; i < 15; ++i) {
    CHECK(state["events"][i]["body"]["id"] == "evt_" + std::to_string(i));
    CHECK(state["events"][i]["body"]["decision"] == (i % 2 == 0 ? "granted" : "withdrawn"));
  }
}

}  // namespace
}  // namespace consentd::adapters
