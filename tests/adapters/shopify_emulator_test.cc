// Integration tests: the real Shopify adapter over HttplibTransport against
// the Shopify emulator process (tests/emulators/shopify_emulator.cc).
#include <catch2/catch.hpp>

#include <chrono>
#include <nlohmann/json.hpp>
#include <thread>

#include "adapters/http_transport.h"
#include "adapters/shopify.h"
#include "tests/emulators/emulator_process.h"

namespace consentd::adapters {
namespace {

using emulators::EmulatorProcess;
using nlohmann::json;

struct Shop {
  std::unique_ptr<EmulatorProcess> emu = EmulatorProcess::Start("shopify");
  std::shared_ptr<HttpTransport> transport = std::make_shared<HttplibTransport>();
  AdapterConfig config;
  ShopifySettings settings;

  Shop() {
    REQUIRE(emu != nullptr);
    config.system_id = "shopify-test";
    config.base_url = emu->base_url();
    config.api_version = "2025-01";
    config.credentials = {{"access_token", "shpat_emulator"}};
    config.timeout_ms = 5000;
    settings.shop_domain = "emulated.myshopify.com";
    emu->Seed(json::parse(R"({"customers":[
        {"id":"1001","email":"jane@example.com","phone":"+14155550123","has_orders":true},
        {"id":"1002","email":"jane@example.com.au"},
        {"id":"1003","email":"max@example.com"}]})"));
  }
  std::unique_ptr<Adapter> Make() {
    config.settings = settings;
    return MakeShopifyAdapter(config, transport, SystemClock::Get());
  }
  json Customer(const std::string& id) const {
    const json state = emu->State();  // alive while iterating
    for (const json& c : state["customers"]) {
      if (c["id"] == id) return c;
    }
    return nullptr;
  }
};

Request Consent(const std::string& channel, bool granted, const std::string& email = "jane@example.com") {
  Request r;
  r.op = Operation::kSetConsent;
  r.purpose = channel + "_marketing";
  r.channel = channel;
  r.granted = granted;
  r.occurred_at_ms = 1'700'000'000'000;
  r.idempotency_key = "idem-1";
  r.customer.email = email;
  return r;
}

Request Erase(const std::string& email) {
  Request r;
  r.op = Operation::kErase;
  r.idempotency_key = "idem-2";
  r.customer.email = email;
  return r;
}

TEST_CASE("Shopify against the emulator: email and SMS consent reach the customer found by exact email",
          "[shopify][emulator]") {
  Shop shop;
  auto a = shop.Make();
  Outcome grant = a->Deliver(Consent("email", true));
  CHECK(grant.cls == OutcomeClass::kDone);
  CHECK(grant.system_id == "gid://shopify/Customer/1001");
  Outcome sms = a->Deliver(Consent("sms", true));
  CHECK(sms.cls == OutcomeClass::kDone);
  json c = shop.Customer("1001");
  CHECK(c["email_marketing_consent"] ==
        json::parse(R"({"state":"subscribed","opt_in_level":"single_opt_in","consent_updated_at":"2023-11-14T22:13:20.000Z"})"));
  CHECK(c["sms_marketing_consent"]["state"] == "subscribed");
  // The prefix match on 1002 was not touched.
  CHECK(shop.Customer("1002")["email_marketing_consent"]["state"] == "not_subscribed");

  CHECK(a->Deliver(Consent("email", false)).cls == OutcomeClass::kDone);
  CHECK(shop.Customer("1001")["email_marketing_consent"]["state"] == "unsubscribed");
  CHECK(shop.Customer("1001")["sms_marketing_consent"]["state"] == "subscribed");
}

TEST_CASE("Shopify against the emulator: SMS consent for a customer without a phone fails permanently",
          "[shopify][emulator]") {
  Shop shop;
  Outcome o = shop.Make()->Deliver(Consent("sms", true, "max@example.com"));
  CHECK(o.cls == OutcomeClass::kPermanent);
  CHECK(o.code == "user_error_invalid");
}

TEST_CASE("Shopify against the emulator: an unknown customer is not_found for consent and already done for erasure",
          "[shopify][emulator]") {
  Shop shop;
  auto a = shop.Make();
  Outcome consent = a->Deliver(Consent("email", true, "nobody@example.com"));
  CHECK(consent.cls == OutcomeClass::kDone);
  CHECK(consent.code == "not_found");
  Outcome erase = a->Deliver(Erase("nobody@example.com"));
  CHECK(erase.cls == OutcomeClass::kAlreadyDone);
  Request stale = Erase("");
  stale.customer.system_id = "999999";
  CHECK(a->Deliver(stale).cls == OutcomeClass::kAlreadyDone);
  Request stale_consent = Consent("email", true, "");
  stale_consent.customer.system_id = "999999";
  Outcome sc = a->Deliver(stale_consent);
  CHECK(sc.cls == OutcomeClass::kDone);
  CHECK(sc.code == "not_found");
}

TEST_CASE("Shopify against the emulator: erasure of a customer with orders is accepted, then confirmed once erased",
          "[shopify][emulator]") {
  Shop shop;
  shop.emu->Seed({{"erasure_delay_ms", 600}});
  auto a = shop.Make();
  Outcome accepted = a->Deliver(Erase("jane@example.com"));
  REQUIRE(accepted.cls == OutcomeClass::kAccepted);
  CHECK(accepted.reference == "gid://shopify/Customer/1001");
  CHECK(a->Confirm(Erase("jane@example.com"), accepted.reference).cls == OutcomeClass::kAccepted);
  std::this_thread::sleep_for(std::chrono::milliseconds(700));
  Outcome done = a->Confirm(Erase("jane@example.com"), accepted.reference);
  CHECK(done.cls == OutcomeClass::kDone);
  CHECK(done.code == "erased");
  json state = shop.emu->State();
  CHECK(state["erased"] == json::array({"1001"}));
  CHECK(state["deleted"].empty());
  CHECK(state["erasure_requests"] == json::parse(R"([{"customer_id":"1001","status":"completed","count":1}])"));
  CHECK(shop.Customer("1001").is_null());
  // A repeated delivery after the erasure finds nothing left to erase.
  CHECK(a->Deliver(Erase("jane@example.com")).cls == OutcomeClass::kAlreadyDone);
}

TEST_CASE("Shopify against the emulator: THROTTLED is retried after the hinted delay, then succeeds",
          "[shopify][emulator]") {
  Shop shop;
  shop.emu->SetFaults({{"throttle_next", 1}, {"retry_after", "1.5"}});
  auto a = shop.Make();
  Outcome throttled = a->Deliver(Consent("email", true));
  CHECK(throttled.cls == OutcomeClass::kRetry);
  CHECK(throttled.code == "THROTTLED");
  CHECK(throttled.http_status == 200);
  CHECK(throttled.retry_after_ms == 1500);
  CHECK(a->Deliver(Consent("email", true)).cls == OutcomeClass::kDone);
  CHECK(shop.emu->Stats()["throttled"] == 1);
}

TEST_CASE("Shopify against the emulator: an expired token asks for re-authentication", "[shopify][emulator]") {
  Shop shop;
  shop.emu->SetFaults({{"expire_tokens", true}});
  auto a = shop.Make();
  Outcome o = a->Deliver(Consent("email", true));
  CHECK(o.cls == OutcomeClass::kReauthenticate);
  CHECK(o.http_status == 401);
  CHECK_FALSE(a->Reauthenticate());
  CHECK(shop.Customer("1001")["email_marketing_consent"]["state"] == "not_subscribed");
}

TEST_CASE("Shopify against the emulator: a truncated body is retried as malformed_response", "[shopify][emulator]") {
  Shop shop;
  shop.emu->Seed({{"malformed_next", 1}});
  Outcome o = shop.Make()->Deliver(Consent("email", true));
  CHECK(o.cls == OutcomeClass::kRetry);
  CHECK(o.code == "malformed_response");
}

TEST_CASE("Shopify against the emulator: 5xx, dropped connections, timeouts and a dead shop are retried",
          "[shopify][emulator]") {
  Shop shop;
  shop.config.timeout_ms = 300;
  auto a = shop.Make();
  shop.emu->SetFaults({{"error_rate", 1.0}, {"error_status", 502}});
  CHECK(a->Deliver(Consent("email", true)).code == "http_502");
  shop.emu->SetFaults({{"drop_rate", 1.0}});
  Outcome dropped = a->Deliver(Consent("email", true));
  CHECK(dropped.cls == OutcomeClass::kRetry);
  CHECK(dropped.code == "connection_dropped");
  shop.emu->SetFaults({{"timeout_rate", 1.0}, {"hang_ms", 1000}});
  Outcome timeout = a->Deliver(Consent("email", true));
  CHECK(timeout.cls == OutcomeClass::kRetry);
  CHECK(timeout.code == "timeout");
  shop.emu->SetFaults(json::object());
  CHECK(shop.Customer("1001")["email_marketing_consent"]["state"] == "not_subscribed");
  shop.emu->Kill();
  Outcome refused = a->Deliver(Consent("email", true));
  CHECK(refused.cls == OutcomeClass::kRetry);
  CHECK(refused.code == "connection_refused");
}

TEST_CASE("Shopify REST against the emulator: consent through customers/{id}.json, erasure through GraphQL",
          "[shopify][emulator][rest]") {
  Shop shop;
  shop.settings.api = "rest";
  auto a = shop.Make();
  Outcome grant = a->Deliver(Consent("email", true));
  CHECK(grant.cls == OutcomeClass::kDone);
  CHECK(grant.system_id == "gid://shopify/Customer/1001");
  CHECK(a->Deliver(Consent("sms", false)).cls == OutcomeClass::kDone);
  json c = shop.Customer("1001");
  CHECK(c["email_marketing_consent"] ==
        json::parse(R"({"state":"subscribed","opt_in_level":"single_opt_in","consent_updated_at":"2023-11-14T22:13:20.000Z"})"));
  CHECK(c["sms_marketing_consent"]["state"] == "unsubscribed");
  CHECK(shop.Customer("1002")["email_marketing_consent"]["state"] == "not_subscribed");

  Outcome no_phone = a->Deliver(Consent("sms", true, "max@example.com"));
  CHECK(no_phone.cls == OutcomeClass::kPermanent);
  CHECK(no_phone.code == "http_422");

  Request stale = Consent("email", true, "");
  stale.customer.system_id = "999999";
  Outcome gone = a->Deliver(stale);
  CHECK(gone.cls == OutcomeClass::kDone);
  CHECK(gone.code == "not_found");

  Outcome accepted = a->Deliver(Erase("max@example.com"));
  CHECK(accepted.cls == OutcomeClass::kAccepted);
  CHECK(a->Confirm(Erase("max@example.com"), accepted.reference).cls == OutcomeClass::kDone);
  json state = shop.emu->State();
  CHECK(state["erased"] == json::array({"1003"}));
  CHECK(state["operations"]["customerRequestDataErasure"] == 1);
  CHECK(state["operations"]["rest:customers/search"] == 4);  // grant, sms, no_phone, erase (stale used its id)
}

TEST_CASE("Shopify REST against the emulator: a throttled request is a 429 with a fractional Retry-After",
          "[shopify][emulator][rest]") {
  Shop shop;
  shop.settings.api = "rest";
  shop.emu->SetFaults({{"throttle_next", 1}, {"retry_after", "2"}});
  auto a = shop.Make();
  Outcome limited = a->Deliver(Consent("email", true));
  CHECK(limited.cls == OutcomeClass::kRetry);
  CHECK(limited.code == "http_429");
  CHECK(limited.retry_after_ms == 2000);
  CHECK(a->Deliver(Consent("email", true)).cls == OutcomeClass::kDone);
}

}  // namespace
}  // namespace consentd::adapters
