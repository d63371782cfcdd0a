// Integration tests: the real WooCommerce adapter over HttplibTransport
// against the WooCommerce emulator process (tests/emulators/woocommerce_emulator.cc).
#include <catch2/catch.hpp>

#include <nlohmann/json.hpp>

#include "adapters/http_transport.h"
#include "adapters/woocommerce.h"
#include "tests/emulators/emulator_process.h"

namespace consentd::adapters {
namespace {

using emulators::EmulatorProcess;
using nlohmann::json;

struct Woo {
  std::unique_ptr<EmulatorProcess> emu = EmulatorProcess::Start("woocommerce");
  std::shared_ptr<HttpTransport> transport = std::make_shared<HttplibTransport>();
  AdapterConfig config;
  WooCommerceSettings settings;

  Woo() {
    REQUIRE(emu != nullptr);
    config.system_id = "woo-test";
    config.base_url = emu->base_url();
    config.api_version = "wc/v3";
    config.credentials = {{"consumer_key", "ck_emulator"}, {"consumer_secret", "cs_emulator"}};
    config.timeout_ms = 5000;
    settings.meta_keys = {{"newsletter", "newsletter_consent"}};
    emu->Seed(json::parse(R"({"customers":[
        {"id":25,"email":"jane@example.com","first_name":"Jane","meta_data":[{"key":"loyalty","value":"gold"}]},
        {"id":26,"email":"max@example.com"}]})"));
  }
  std::unique_ptr<Adapter> Make() {
    config.settings = settings;
    return MakeWooCommerceAdapter(config, transport, SystemClock::Get());
  }
  json Customer(int64_t id) const {
    const json state = emu->State();  // alive while iterating
    for (const json& c : state["customers"]) {
      if (c["id"] == id) return c;
    }
    return nullptr;
  }
  // The meta value of `key` on customer `id`, or null.
  json Meta(int64_t id, const std::string& key) const {
    json c = Customer(id);
    if (c.is_null()) return nullptr;
    for (const json& m : c["meta_data"]) {
      if (m["key"] == key) return m["value"];
    }
    return nullptr;
  }
};

Request Consent(const std::string& purpose, bool granted, const std::string& email = "jane@example.com") {
  Request r;
  r.op = Operation::kSetConsent;
  r.purpose = purpose;
  r.channel = "email";
  r.granted = granted;
  r.occurred_at_ms = 1'700'000'000'000;
  r.customer.email = email;
  return r;
}

Request Erase(const std::string& email) {
  Request r;
  r.op = Operation::kErase;
  r.customer.email = email;
  return r;
}

TEST_CASE("WooCommerce against the emulator: consent is written as customer meta and replaced, not duplicated",
          "[woocommerce][emulator]") {
  Woo woo;
  for (const char* auth : {"basic", "query"}) {
    CAPTURE(auth);
    woo.settings.auth = auth;
    auto a = woo.Make();
    Outcome grant = a->Deliver(Consent("newsletter", true));
    CHECK(grant.cls == OutcomeClass::kDone);
    CHECK(grant.system_id == "25");
    CHECK(woo.Meta(25, "newsletter_consent") == "granted");
    CHECK(woo.Meta(25, "newsletter_consent_at") == "2023-11-14T22:13:20.000Z");
    CHECK(a->Deliver(Consent("newsletter", false)).cls == OutcomeClass::kDone);
    CHECK(a->Deliver(Consent("sms_marketing", true)).cls == OutcomeClass::kDone);
  }
  json meta = woo.Customer(25)["meta_data"];
  CHECK(meta.size() == 5);  // loyalty, newsletter_consent(+_at), _consentd_sms_marketing(+_at)
  CHECK(woo.Meta(25, "newsletter_consent") == "withdrawn");
  CHECK(woo.Meta(25, "_consentd_sms_marketing") == "granted");
  CHECK(woo.Meta(25, "loyalty") == "gold");
  CHECK(woo.Meta(26, "newsletter_consent").is_null());
}

TEST_CASE("WooCommerce against the emulator: erasure force-deletes once, then is already done",
          "[woocommerce][emulator]") {
  Woo woo;
  auto a = woo.Make();
  Outcome erased = a->Deliver(Erase("jane@example.com"));
  CHECK(erased.cls == OutcomeClass::kDone);
  CHECK(woo.emu->State()["deleted"] == json::array({25}));
  CHECK(woo.Customer(25).is_null());
  CHECK(a->Deliver(Erase("jane@example.com")).cls == OutcomeClass::kAlreadyDone);
  Request by_id = Erase("");
  by_id.customer.system_id = "25";
  Outcome again = a->Deliver(by_id);
  CHECK(again.cls == OutcomeClass::kAlreadyDone);
  CHECK(again.http_status == 404);
  CHECK(woo.Customer(26).is_object());
}

TEST_CASE("WooCommerce against the emulator: an unknown customer is not_found for consent", "[woocommerce][emulator]") {
  Woo woo;
  auto a = woo.Make();
  Outcome o = a->Deliver(Consent("newsletter", true, "nobody@example.com"));
  CHECK(o.cls == OutcomeClass::kDone);
  CHECK(o.code == "not_found");
  Request stale = Consent("newsletter", true, "");
  stale.customer.system_id = "999";
  Outcome s = a->Deliver(stale);
  CHECK(s.cls == OutcomeClass::kDone);
  CHECK(s.code == "not_found");
  CHECK(s.http_status == 400);
}

TEST_CASE("WooCommerce against the emulator: rate limited, revoked keys and a malformed answer", "[woocommerce][emulator]") {
  Woo woo;
  auto a = woo.Make();
  woo.emu->SetFaults({{"throttle_next", 1}, {"retry_after", "2"}});
  Outcome limited = a->Deliver(Consent("newsletter", true));
  CHECK(limited.cls == OutcomeClass::kRetry);
  CHECK(limited.code == "http_429");
  CHECK(limited.retry_after_ms == 2000);

  woo.emu->SetFaults({{"expire_tokens", true}});
  Outcome auth = a->Deliver(Consent("newsletter", true));
  CHECK(auth.cls == OutcomeClass::kReauthenticate);
  CHECK(auth.code == "woocommerce_rest_authentication_error");
  woo.emu->SetFaults(json::object());

  woo.config.credentials["consumer_secret"] = "cs_wrong";
  Outcome wrong = woo.Make()->Deliver(Consent("newsletter", true));
  CHECK(wrong.code == "woocommerce_rest_authentication_error");

  woo.emu->Seed({{"malformed_next", 1}});
  Outcome malformed = a->Deliver(Consent("newsletter", true));
  CHECK(malformed.cls == OutcomeClass::kRetry);
  CHECK(malformed.code == "malformed_response");
  CHECK(woo.Meta(25, "newsletter_consent").is_null());
}

TEST_CASE("WooCommerce against the emulator: 5xx, dropped connections, timeouts and a dead shop are retried",
          "[woocommerce][emulator]") {
  Woo woo;
  woo.config.timeout_ms = 300;
  auto a = woo.Make();
  woo.emu->SetFaults({{"error_rate", 1.0}, {"error_status", 500}});
  CHECK(a->Deliver(Erase("jane@example.com")).code == "http_500");
  woo.emu->SetFaults({{"drop_rate", 1.0}});
  CHECK(a->Deliver(Erase("jane@example.com")).code == "connection_dropped");
  woo.emu->SetFaults({{"timeout_rate", 1.0}, {"hang_ms", 1000}});
  Outcome timeout = a->Deliver(Erase("jane@example.com"));
  CHECK(timeout.cls == OutcomeClass::kRetry);
  CHECK(timeout.code == "timeout");
  woo.emu->SetFaults(json::object());
  CHECK(woo.emu->State()["deleted"].empty());
  woo.emu->Kill();
  Outcome refused = a->Deliver(Erase("jane@example.com"));
  CHECK(refused.cls == OutcomeClass::kRetry);
  CHECK(refused.code == "connection_refused");
}

}  // namespace
}  // namespace consentd::adapters
