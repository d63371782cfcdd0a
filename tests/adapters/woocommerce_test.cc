// Unit tests of the WooCommerce adapter (adapters/woocommerce.cc) over
// FakeHttpTransport: the exact REST requests, and how each answer is classified.
#include "adapters/woocommerce.h"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "adapters/fake_http_transport.h"

namespace consentd::adapters {
namespace {

using nlohmann::json;

constexpr int64_t kNow = 1'700'000'000'000;  // 2023-11-14T22:13:20.000Z

struct Fixture {
  std::shared_ptr<FakeHttpTransport> transport = std::make_shared<FakeHttpTransport>();
  FakeClock clock{kNow};
  AdapterConfig config;
  WooCommerceSettings settings;

  Fixture() {
    config.system_id = "woo-main";
    config.base_url = "https://shop.example.com/";
    config.api_version = "wc/v3";
    config.credentials = {{"consumer_key", "ck_abc"}, {"consumer_secret", "cs_x+y/z"}};
    config.timeout_ms = 2500;
  }
  std::unique_ptr<Adapter> Make() {
    config.settings = settings;
    return MakeWooCommerceAdapter(config, transport, clock);
  }
  HttpRequest Req(size_t i) const { return transport->requests().at(i); }
};

std::string Header(const HttpRequest& r, const std::string& name) {
  for (const auto& [k, v] : r.headers) {
    if (k == name) return v;
  }
  return "";
}

HttpResponse WooError(int status, const std::string& code, const std::string& message) {
  return FakeHttpTransport::Respond(
      status, json{{"code", code}, {"message", message}, {"data", {{"status", status}}}}.dump());
}

Request Consent(const std::string& purpose, bool granted) {
  Request r;
  r.op = Operation::kSetConsent;
  r.purpose = purpose;
  r.channel = "email";
  r.granted = granted;
  r.occurred_at_ms = kNow - 1000;
  r.idempotency_key = "k1";
  r.customer.email = "jane@example.com";
  return r;
}

Request Erase() {
  Request r;
  r.op = Operation::kErase;
  r.customer.email = "jane@example.com";
  return r;
}

const char kListJane[] = R"([{"id":25,"email":"JANE@example.com","first_name":"Jane","meta_data":[]}])";

TEST_CASE("WooCommerce consent looks the customer up by email and writes the configured meta key", "[woocommerce]") {
  Fixture f;
  f.settings.meta_keys = {{"newsletter", "newsletter_consent"}};
  f.transport->Enqueue(FakeHttpTransport::Respond(200, kListJane));
  f.transport->Enqueue(FakeHttpTransport::Respond(200, R"({"id":25,"meta_data":[]})"));
  Outcome o = f.Make()->Deliver(Consent("newsletter", true));
  CHECK(o.cls == OutcomeClass::kDone);
  CHECK(o.code == "ok");
  CHECK(o.system_id == "25");
  REQUIRE(f.transport->requests().size() == 2);
  HttpRequest lookup = f.Req(0);
  CHECK(lookup.method == "GET");
  CHECK(lookup.url == "https://shop.example.com/wp-json/wc/v3/customers?email=jane%40example.com");
  CHECK(Header(lookup, "Authorization") == "Basic Y2tfYWJjOmNzX3greS96");  // base64("ck_abc:cs_x+y/z")
  CHECK(lookup.timeout_ms == 2500);
  HttpRequest put = f.Req(1);
  CHECK(put.method == "PUT");
  CHECK(put.url == "https://shop.example.com/wp-json/wc/v3/customers/25");
  CHECK(put.content_type == "application/json");
  CHECK(json::parse(put.body) == json::parse(R"({"meta_data":[{"key":"newsletter_consent","value":"granted"},
        {"key":"newsletter_consent_at","value":"2023-11-14T22:13:19.000Z"}]})"));
}

TEST_CASE("WooCommerce withdrawal writes withdrawn under the default key _consentd_<purpose>", "[woocommerce]") {
  Fixture f;
  Request r = Consent("email_marketing", false);
  r.customer.system_id = "25";
  f.transport->Enqueue(FakeHttpTransport::Respond(200, R"({"id":25})"));
  CHECK(f.Make()->Deliver(r).cls == OutcomeClass::kDone);
  REQUIRE(f.transport->requests().size() == 1);
  CHECK(json::parse(f.Req(0).body) == json::parse(R"({"meta_data":[{"key":"_consentd_email_marketing","value":"withdrawn"},
        {"key":"_consentd_email_marketing_at","value":"2023-11-14T22:13:19.000Z"}]})"));
}

TEST_CASE("WooCommerce query authentication sends the keys as encoded query parameters", "[woocommerce]") {
  Fixture f;
  f.settings.auth = "query";
  Request r = Erase();
  r.customer.system_id = "25";
  f.transport->Enqueue(FakeHttpTransport::Respond(200, R"({"id":25})"));
  f.Make()->Deliver(r);
  HttpRequest del = f.Req(0);
  CHECK(del.url ==
        "https://shop.example.com/wp-json/wc/v3/customers/25?force=true&consumer_key=ck_abc&consumer_secret=cs_x%2By%2Fz");
  CHECK(Header(del, "Authorization").empty());
}

TEST_CASE("WooCommerce refuses an unknown auth mode and an empty purpose without a call", "[woocommerce]") {
  Fixture f;
  f.settings.auth = "oauth1";
  CHECK(f.Make()->Deliver(Consent("x", true)).code == "unsupported_auth");
  f.settings.auth = "basic";
  CHECK(f.Make()->Deliver(Consent("", true)).code == "unsupported_purpose");
  CHECK(f.transport->requests().empty());
}

TEST_CASE("WooCommerce erasure deletes with force=true", "[woocommerce]") {
  Fixture f;
  f.transport->Enqueue(FakeHttpTransport::Respond(200, kListJane));
  f.transport->Enqueue(FakeHttpTransport::Respond(200, R"({"id":25,"email":"jane@example.com"})"));
  Outcome o = f.Make()->Deliver(Erase());
  CHECK(o.cls == OutcomeClass::kDone);
  CHECK(o.system_id == "25");
  CHECK(f.Req(1).method == "DELETE");
  CHECK(f.Req(1).url == "https://shop.example.com/wp-json/wc/v3/customers/25?force=true");
  CHECK(f.Req(1).body.empty());
}

TEST_CASE("WooCommerce erasure of an already deleted id is already done", "[woocommerce]") {
  Fixture f;
  Request r = Erase();
  r.customer.system_id = "25";
  for (auto [status, code] : {std::pair{404, "woocommerce_rest_invalid_id"}, std::pair{404, "wc_user_invalid_id"},
                              std::pair{400, "woocommerce_rest_invalid_id"}}) {
    f.transport->Enqueue(WooError(status, code, "Invalid resource ID."));
    Outcome o = f.Make()->Deliver(r);
    CAPTURE(code);
    CHECK(o.cls == OutcomeClass::kAlreadyDone);
    CHECK(o.code == "not_found");
  }
}

TEST_CASE("WooCommerce erasure of a customer it does not hold is already done without a delete", "[woocommerce]") {
  Fixture f;
  f.transport->Enqueue(FakeHttpTransport::Respond(200, "[]"));
  Outcome o = f.Make()->Deliver(Erase());
  CHECK(o.cls == OutcomeClass::kAlreadyDone);
  CHECK(f.transport->requests().size() == 1);
}

TEST_CASE("WooCommerce consent for a customer that is gone is done with not_found", "[woocommerce]") {
  Fixture f;
  f.transport->Enqueue(FakeHttpTransport::Respond(200, R"([{"id":26,"email":"jane@example.com.au"}])"));
  Outcome missing = f.Make()->Deliver(Consent("newsletter", true));
  CHECK(missing.cls == OutcomeClass::kDone);
  CHECK(missing.code == "not_found");
  CHECK(f.transport->requests().size() == 1);
  Request stale = Consent("newsletter", true);
  stale.customer.system_id = "25";
  f.transport->Enqueue(WooError(400, "woocommerce_rest_invalid_id", "Invalid resource ID."));
  Outcome o = f.Make()->Deliver(stale);
  CHECK(o.cls == OutcomeClass::kDone);
  CHECK(o.code == "not_found");
}

TEST_CASE("WooCommerce delete without force (501) fails permanently with its code", "[woocommerce]") {
  Fixture f;
  Request r = Erase();
  r.customer.system_id = "25";
  f.transport->Enqueue(WooError(501, "woocommerce_rest_trash_not_supported", "Customers do not support trashing."));
  Outcome o = f.Make()->Deliver(r);
  CHECK(o.cls == OutcomeClass::kPermanent);
  CHECK(o.code == "woocommerce_rest_trash_not_supported");
  CHECK(o.http_status == 501);
}

TEST_CASE("WooCommerce 401 asks for re-authentication, which consumer keys cannot do", "[woocommerce]") {
  Fixture f;
  Request r = Consent("newsletter", true);
  r.customer.system_id = "25";
  f.transport->Enqueue(WooError(401, "woocommerce_rest_authentication_error", "Consumer key is invalid."));
  auto a = f.Make();
  Outcome o = a->Deliver(r);
  CHECK(o.cls == OutcomeClass::kReauthenticate);
  CHECK(o.code == "woocommerce_rest_authentication_error");
  CHECK_FALSE(a->Reauthenticate());
}

TEST_CASE("WooCommerce 429 and 5xx are retried with Retry-After", "[woocommerce]") {
  Fixture f;
  Request r = Consent("newsletter", true);
  r.customer.system_id = "25";
  auto a = f.Make();
  f.transport->Enqueue(FakeHttpTransport::Respond(429, "", {{"Retry-After", "3"}}));
  Outcome limited = a->Deliver(r);
  CHECK(limited.cls == OutcomeClass::kRetry);
  CHECK(limited.retry_after_ms == 3000);
  f.transport->Enqueue(FakeHttpTransport::Respond(503, "<html>maintenance</html>", {{"Retry-After", "0.25"}}));
  Outcome down = a->Deliver(r);
  CHECK(down.cls == OutcomeClass::kRetry);
  CHECK(down.code == "http_503");
  CHECK(down.retry_after_ms == 250);
  f.transport->Enqueue(FakeHttpTransport::Respond(503, "", {{"Retry-After", "Tue, 14 Nov 2023 22:13:25 GMT"}}));
  CHECK(a->Deliver(r).retry_after_ms == 5000);
}

TEST_CASE("WooCommerce transport failures are retried", "[woocommerce]") {
  Fixture f;
  Request r = Erase();
  r.customer.system_id = "25";
  for (TransportError e : {TransportError::kTimeout, TransportError::kConnectionDropped, TransportError::kConnectionRefused}) {
    f.transport->Enqueue(FakeHttpTransport::Fail(e));
    Outcome o = f.Make()->Deliver(r);
    CHECK(o.cls == OutcomeClass::kRetry);
    CHECK(o.code == TransportErrorCode(e));
  }
}

TEST_CASE("WooCommerce error codes that are not identifiers are not copied", "[woocommerce]") {
  Fixture f;
  Request r = Consent("newsletter", true);
  r.customer.system_id = "25";
  f.transport->Enqueue(WooError(400, "jane@example.com", "bad"));
  f.transport->Enqueue(WooError(403, "woocommerce_rest_cannot_edit", "Sorry, you are not allowed to edit this resource."));
  f.transport->Enqueue(WooError(400, "rest_invalid_param jane@example.com", "x"));
  auto a = f.Make();
  Outcome o1 = a->Deliver(r);
  CHECK(o1.cls == OutcomeClass::kPermanent);
  CHECK(o1.code == "http_400");
  Outcome o2 = a->Deliver(r);
  CHECK(o2.cls == OutcomeClass::kPermanent);
  CHECK(o2.code == "woocommerce_rest_cannot_edit");
  CHECK(a->Deliver(r).code == "http_400");
}

TEST_CASE("WooCommerce lookup answers that are not a customer list are malformed", "[woocommerce]") {
  Fixture f;
  Outcome o;
  f.transport->Enqueue(FakeHttpTransport::Respond(200, "[{\"id\":"));
  CHECK_FALSE(f.Make()->Lookup(Consent("x", true).customer, &o).has_value());
  CHECK(o.cls == OutcomeClass::kRetry);
  CHECK(o.code == "malformed_response");
  f.transport->Enqueue(FakeHttpTransport::Respond(200, R"({"customers":[]})"));
  CHECK_FALSE(f.Make()->Lookup(Consent("x", true).customer, &o).has_value());
  CHECK(o.cls == OutcomeClass::kPermanent);
  CHECK(o.code == "malformed_response");
  // Entries without a usable id are skipped, not trusted.
  f.transport->Enqueue(FakeHttpTransport::Respond(200, R"([{"id":-3,"email":"jane@example.com"},{"id":"x","email":"jane@example.com"},{"email":"jane@example.com"}])"));
  CHECK(f.Make()->Lookup(Consent("x", true).customer, &o) == std::string());
  CHECK(o.code == "not_found");
}

TEST_CASE("WooCommerce needs an email or a numeric id", "[woocommerce]") {
  Fixture f;
  Request r = Erase();
  r.customer.email.clear();
  CHECK(f.Make()->Deliver(r).code == "no_email");
  r.customer.system_id = "25/../1";
  CHECK(f.Make()->Deliver(r).code == "bad_system_id");
  CHECK(f.transport->requests().empty());
}

TEST_CASE("WooCommerce Confirm has nothing asynchronous to wait for", "[woocommerce]") {
  Fixture f;
  CHECK(f.Make()->Confirm(Erase(), "x").cls == OutcomeClass::kDone);
  CHECK(f.transport->requests().empty());
}

TEST_CASE("WooCommerce bounds what it copies from oversized or hostile answers", "[woocommerce]") {
  Fixture f;
  Request r = Consent("newsletter", true);
  r.customer.system_id = "25";
  f.transport->Enqueue(FakeHttpTransport::Respond(400, std::string(4 << 20, '{')));
  Outcome big = f.Make()->Deliver(r);
  CHECK(big.cls == OutcomeClass::kPermanent);
  CHECK(big.code == "http_400");
  f.transport->Enqueue(WooError(400, "woocommerce_rest_" + std::string(200, 'a'), "x"));
  CHECK(f.Make()->Deliver(r).code == "http_400");
  Outcome lo;
  f.transport->Enqueue(FakeHttpTransport::Respond(200, std::string(4 << 20, '[')));
  CHECK_FALSE(f.Make()->Lookup(r.customer, &lo).has_value());
  CHECK(lo.code == "malformed_response");
}

TEST_CASE("WooCommerce answers a replayed delivery the same way (PUT of the same meta)", "[woocommerce]") {
  Fixture f;
  Request r = Consent("newsletter", true);
  r.customer.system_id = "25";
  f.transport->Enqueue(FakeHttpTransport::Respond(200, "{}"));
  f.transport->Enqueue(FakeHttpTransport::Respond(200, "{}"));
  auto a = f.Make();
  CHECK(a->Deliver(r).cls == OutcomeClass::kDone);
  CHECK(a->Deliver(r).cls == OutcomeClass::kDone);
  REQUIRE(f.transport->requests().size() == 2);
  CHECK(f.transport->requests()[0].body == f.transport->requests()[1].body);
}

}  // namespace
}  // namespace consentd::adapters
