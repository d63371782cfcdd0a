// Unit tests of the Shopify adapter (adapters/shopify.cc) over FakeHttpTransport:
// the exact GraphQL requests, and how each answer is classified.
#include "adapters/shopify.h"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "adapters/fake_http_transport.h"

namespace consentd::adapters {
namespace {

using nlohmann::json;

constexpr char kGid[] = "gid://shopify/Customer/1073339460";
constexpr int64_t kNow = 1'700'000'000'000;  // 2023-11-14T22:13:20.000Z

struct Fixture {
  std::shared_ptr<FakeHttpTransport> transport = std::make_shared<FakeHttpTransport>();
  FakeClock clock{kNow};
  AdapterConfig config;
  ShopifySettings settings;

  Fixture() {
    config.system_id = "shopify-main";
    config.base_url = "http://127.0.0.1:9";
    config.api_version = "2025-01";
    config.credentials = {{"access_token", "shpat_test_token"}};
    config.timeout_ms = 1234;
    settings.shop_domain = "demo.myshopify.com";
  }
  std::unique_ptr<Adapter> Make() {
    config.settings = settings;
    return MakeShopifyAdapter(config, transport, clock);
  }
  json Body(size_t i) const { return json::parse(transport->requests().at(i).body); }
};

HttpResponse Ok(const json& data) { return FakeHttpTransport::Respond(200, json{{"data", data}}.dump()); }

Request Consent(const std::string& channel, bool granted) {
  Request r;
  r.op = Operation::kSetConsent;
  r.purpose = channel + "_marketing";
  r.channel = channel;
  r.granted = granted;
  r.occurred_at_ms = kNow - 60'000;
  r.idempotency_key = "k1";
  r.customer.email = "jane@example.com";
  r.customer.phone = "+14155550123";
  return r;
}

Request Erase() {
  Request r;
  r.op = Operation::kErase;
  r.idempotency_key = "k2";
  r.customer.email = "jane@example.com";
  return r;
}

json ConsentOk() { return {{"customerEmailMarketingConsentUpdate", {{"customer", {{"id", kGid}}}, {"userErrors", json::array()}}}}; }

json LookupResult(const json& nodes) { return {{"customers", {{"nodes", nodes}}}}; }

TEST_CASE("Shopify email consent grant sends customerEmailMarketingConsentUpdate to the GraphQL endpoint", "[shopify]") {
  Fixture f;
  Request r = Consent("email", true);
  r.customer.system_id = "1073339460";
  f.transport->Enqueue(Ok(ConsentOk()));
  Outcome o = f.Make()->Deliver(r);
  CHECK(o.cls == OutcomeClass::kDone);
  CHECK(o.code == "ok");
  CHECK(o.system_id == kGid);
  REQUIRE(f.transport->requests().size() == 1);
  const HttpRequest req = f.transport->requests()[0];
  CHECK(req.method == "POST");
  CHECK(req.url == "http://127.0.0.1:9/admin/api/2025-01/graphql.json");
  CHECK(req.content_type == "application/json");
  CHECK(req.timeout_ms == 1234);
  CHECK(std::count(req.headers.begin(), req.headers.end(),
                   std::pair<std::string, std::string>("X-Shopify-Access-Token", "shpat_test_token")) == 1);
  json body = f.Body(0);
  CHECK(body["query"].get<std::string>().find("customerEmailMarketingConsentUpdate(input: $input)") !=
        std::string::npos);
  CHECK(body["variables"] == json::parse(R"({"input":{"customerId":"gid://shopify/Customer/1073339460",
        "emailMarketingConsent":{"marketingState":"SUBSCRIBED","marketingOptInLevel":"SINGLE_OPT_IN",
        "consentUpdatedAt":"2023-11-14T22:12:20.000Z"}}})"));
}

TEST_CASE("Shopify email consent withdrawal sends UNSUBSCRIBED without an opt-in level", "[shopify]") {
  Fixture f;
  Request r = Consent("email", false);
  r.customer.system_id = kGid;
  f.transport->Enqueue(Ok(ConsentOk()));
  CHECK(f.Make()->Deliver(r).cls == OutcomeClass::kDone);
  CHECK(f.Body(0)["variables"] == json::parse(R"({"input":{"customerId":"gid://shopify/Customer/1073339460",
        "emailMarketingConsent":{"marketingState":"UNSUBSCRIBED","consentUpdatedAt":"2023-11-14T22:12:20.000Z"}}})"));
}

TEST_CASE("Shopify SMS consent sends customerSmsMarketingConsentUpdate with the configured opt-in level", "[shopify]") {
  Fixture f;
  f.settings.opt_in_level = "CONFIRMED_OPT_IN";
  Request r = Consent("sms", true);
  r.customer.system_id = kGid;
  f.transport->Enqueue(Ok({{"customerSmsMarketingConsentUpdate", {{"customer", {{"id", kGid}}}, {"userErrors", json::array()}}}}));
  Outcome o = f.Make()->Deliver(r);
  CHECK(o.cls == OutcomeClass::kDone);
  json body = f.Body(0);
  CHECK(body["query"].get<std::string>().find("customerSmsMarketingConsentUpdate(input: $input)") != std::string::npos);
  CHECK(body["variables"]["input"]["smsMarketingConsent"] ==
        json::parse(R"({"marketingState":"SUBSCRIBED","marketingOptInLevel":"CONFIRMED_OPT_IN",
                        "consentUpdatedAt":"2023-11-14T22:12:20.000Z"})"));
}

TEST_CASE("Shopify consent time from a clock ahead of ours is clamped to now", "[shopify]") {
  Fixture f;
  Request r = Consent("email", true);
  r.customer.system_id = kGid;
  r.occurred_at_ms = kNow + 3'600'000;
  f.transport->Enqueue(Ok(ConsentOk()));
  f.Make()->Deliver(r);
  CHECK(f.Body(0)["variables"]["input"]["emailMarketingConsent"]["consentUpdatedAt"] == "2023-11-14T22:13:20.000Z");
}

TEST_CASE("Shopify refuses channels it cannot represent without calling the shop", "[shopify]") {
  Fixture f;
  for (const char* channel : {"ads", "analytics", "sale_sharing", "post", ""}) {
    Outcome o = f.Make()->Deliver(Consent(channel, true));
    CAPTURE(channel);
    CHECK(o.cls == OutcomeClass::kPermanent);
    CHECK(o.code == "unsupported_purpose");
  }
  CHECK(f.transport->requests().empty());
}

TEST_CASE("Shopify with an unknown api setting is reported as unsupported, not silently done", "[shopify]") {
  Fixture f;
  f.settings.api = "soap";
  auto a = f.Make();
  CHECK(a->Deliver(Consent("email", true)).code == "unsupported_api");
  CHECK(a->Deliver(Erase()).cls == OutcomeClass::kPermanent);
  CHECK(a->Confirm(Erase(), kGid).code == "unsupported_api");
  Outcome lo;
  CHECK_FALSE(a->Lookup(Consent("email", true).customer, &lo).has_value());
  CHECK(lo.code == "unsupported_api");
  CHECK(f.transport->requests().empty());
}

TEST_CASE("Shopify REST looks up by email and PUTs the channel's consent object", "[shopify][rest]") {
  Fixture f;
  f.settings.api = "rest";
  f.transport->Enqueue(FakeHttpTransport::Respond(200, R"({"customers":[
      {"id":1,"email":"jane@example.com.au","phone":null},{"id":1073339460,"email":"jane@example.com","phone":null}]})"));
  f.transport->Enqueue(FakeHttpTransport::Respond(200, R"({"customer":{"id":1073339460}})"));
  Outcome o = f.Make()->Deliver(Consent("email", true));
  CHECK(o.cls == OutcomeClass::kDone);
  CHECK(o.system_id == kGid);
  REQUIRE(f.transport->requests().size() == 2);
  HttpRequest get = f.transport->requests()[0];
  CHECK(get.method == "GET");
  CHECK(get.url ==
        "http://127.0.0.1:9/admin/api/2025-01/customers/search.json?query=email%3Ajane%40example.com&fields=id,email,phone");
  HttpRequest put = f.transport->requests()[1];
  CHECK(put.method == "PUT");
  CHECK(put.url == "http://127.0.0.1:9/admin/api/2025-01/customers/1073339460.json");
  CHECK(std::count(put.headers.begin(), put.headers.end(),
                   std::pair<std::string, std::string>("X-Shopify-Access-Token", "shpat_test_token")) == 1);
  CHECK(json::parse(put.body) == json::parse(R"({"customer":{"id":1073339460,"email_marketing_consent":
        {"state":"subscribed","opt_in_level":"single_opt_in","consent_updated_at":"2023-11-14T22:12:20.000Z"}}})"));
}

TEST_CASE("Shopify REST SMS withdrawal sends sms_marketing_consent unsubscribed", "[shopify][rest]") {
  Fixture f;
  f.settings.api = "rest";
  Request r = Consent("sms", false);
  r.customer.system_id = kGid;
  f.transport->Enqueue(FakeHttpTransport::Respond(200, R"({"customer":{"id":1073339460}})"));
  CHECK(f.Make()->Deliver(r).cls == OutcomeClass::kDone);
  CHECK(json::parse(f.transport->requests().at(0).body) == json::parse(R"({"customer":{"id":1073339460,
        "sms_marketing_consent":{"state":"unsubscribed","consent_updated_at":"2023-11-14T22:12:20.000Z"}}})"));
}

TEST_CASE("Shopify REST answers: 429 with fractional Retry-After, 404, 422, malformed lookup", "[shopify][rest]") {
  Fixture f;
  f.settings.api = "rest";
  Request r = Consent("email", true);
  r.customer.system_id = kGid;
  auto a = f.Make();
  f.transport->Enqueue(FakeHttpTransport::Respond(429, R"({"errors":"Exceeded 2 calls per second for api client. Reduce request rates to resume uninterrupted service."})",
                                                  {{"Retry-After", "2.0"}}));
  Outcome limited = a->Deliver(r);
  CHECK(limited.cls == OutcomeClass::kRetry);
  CHECK(limited.retry_after_ms == 2000);
  f.transport->Enqueue(FakeHttpTransport::Respond(404, R"({"errors":"Not Found"})"));
  Outcome gone = a->Deliver(r);
  CHECK(gone.cls == OutcomeClass::kDone);
  CHECK(gone.code == "not_found");
  f.transport->Enqueue(FakeHttpTransport::Respond(422, R"({"errors":{"email_marketing_consent":["jane@example.com is invalid"]}})"));
  Outcome invalid = a->Deliver(r);
  CHECK(invalid.cls == OutcomeClass::kPermanent);
  CHECK(invalid.code == "http_422");
  Outcome lo;
  f.transport->Enqueue(FakeHttpTransport::Respond(200, "<html>"));
  CHECK_FALSE(a->Lookup(Consent("email", true).customer, &lo).has_value());
  CHECK(lo.cls == OutcomeClass::kRetry);
  f.transport->Enqueue(FakeHttpTransport::Respond(200, R"({"customer":[]})"));
  CHECK_FALSE(a->Lookup(Consent("email", true).customer, &lo).has_value());
  CHECK(lo.cls == OutcomeClass::kPermanent);
  CHECK(lo.code == "malformed_response");
}

TEST_CASE("Shopify REST mode erases through the GraphQL data-erasure request", "[shopify][rest]") {
  Fixture f;
  f.settings.api = "rest";
  Request r = Erase();
  r.customer.system_id = kGid;
  f.transport->Enqueue(Ok({{"customerRequestDataErasure", {{"customerId", kGid}, {"userErrors", json::array()}}}}));
  Outcome o = f.Make()->Deliver(r);
  CHECK(o.cls == OutcomeClass::kAccepted);
  CHECK(f.transport->requests().at(0).url == "http://127.0.0.1:9/admin/api/2025-01/graphql.json");
}

TEST_CASE("Shopify without base_url talks to https://<shop_domain>", "[shopify]") {
  Fixture f;
  f.config.base_url = "";
  Request r = Consent("email", true);
  r.customer.system_id = kGid;
  f.transport->Enqueue(Ok(ConsentOk()));
  f.Make()->Deliver(r);
  CHECK(f.transport->requests().at(0).url == "https://demo.myshopify.com/admin/api/2025-01/graphql.json");
}

TEST_CASE("Shopify consent looks the customer up by email first and updates the exact match", "[shopify]") {
  Fixture f;
  // Search matches loosely: a different customer may come first.
  f.transport->Enqueue(Ok(LookupResult(json::parse(R"([
      {"id":"gid://shopify/Customer/1","email":"jane@example.com.au","phone":null},
      {"id":"gid://shopify/Customer/1073339460","email":"Jane@Example.com","phone":null}])"))));
  f.transport->Enqueue(Ok(ConsentOk()));
  Outcome o = f.Make()->Deliver(Consent("email", true));
  CHECK(o.cls == OutcomeClass::kDone);
  CHECK(o.system_id == kGid);
  REQUIRE(f.transport->requests().size() == 2);
  json lookup = f.Body(0);
  CHECK(lookup["query"].get<std::string>().find("customers(first: 10, query: $query)") != std::string::npos);
  CHECK(lookup["variables"] == json{{"query", "email:jane@example.com"}});
  CHECK(f.Body(1)["variables"]["input"]["customerId"] == kGid);
}

TEST_CASE("Shopify quotes a search value that could change the search term", "[shopify]") {
  Fixture f;
  Customer c;
  c.email = "a b\"c\\d@example.com";
  f.transport->Enqueue(Ok(LookupResult(json::array())));
  Outcome o;
  CHECK(f.Make()->Lookup(c, &o) == std::string());
  CHECK(f.Body(0)["variables"]["query"] == "email:\"a b\\\"c\\\\d@example.com\"");
}

TEST_CASE("Shopify looks a customer without email up by phone", "[shopify]") {
  Fixture f;
  Customer c;
  c.phone = "+14155550123";
  f.transport->Enqueue(Ok(LookupResult(json::parse(R"([{"id":"gid://shopify/Customer/7","email":null,"phone":"+14155550123"}])"))));
  Outcome o;
  CHECK(f.Make()->Lookup(c, &o) == "gid://shopify/Customer/7");
  CHECK(o.cls == OutcomeClass::kDone);
  CHECK(f.Body(0)["variables"]["query"] == "phone:+14155550123");
}

TEST_CASE("Shopify consent for a customer the shop does not hold is done with not_found", "[shopify]") {
  Fixture f;
  f.transport->Enqueue(Ok(LookupResult(json::array())));
  Outcome o = f.Make()->Deliver(Consent("sms", false));
  CHECK(o.cls == OutcomeClass::kDone);
  CHECK(o.code == "not_found");
  CHECK(f.transport->requests().size() == 1);
}

TEST_CASE("Shopify without email, phone or id cannot find the customer", "[shopify]") {
  Fixture f;
  Request r = Consent("email", true);
  r.customer = Customer();
  Outcome o = f.Make()->Deliver(r);
  CHECK(o.cls == OutcomeClass::kPermanent);
  CHECK(o.code == "no_identifier");
}

TEST_CASE("Shopify rejects a system id that is not a customer GID or number", "[shopify]") {
  Fixture f;
  for (const char* bad : {"gid://shopify/Order/1", "12a", "gid://shopify/Customer/", "123456789012345678901"}) {
    Request r = Consent("email", true);
    r.customer.system_id = bad;
    CAPTURE(bad);
    CHECK(f.Make()->Deliver(r).code == "bad_system_id");
  }
  CHECK(f.transport->requests().empty());
}

TEST_CASE("Shopify erasure requests customerRequestDataErasure and is accepted with the GID as reference", "[shopify]") {
  Fixture f;
  f.transport->Enqueue(Ok(LookupResult(json::parse(R"([{"id":"gid://shopify/Customer/1073339460","email":"jane@example.com","phone":null}])"))));
  f.transport->Enqueue(Ok({{"customerRequestDataErasure", {{"customerId", kGid}, {"userErrors", json::array()}}}}));
  Outcome o = f.Make()->Deliver(Erase());
  CHECK(o.cls == OutcomeClass::kAccepted);
  CHECK(o.code == "erasure_requested");
  CHECK(o.reference == kGid);
  REQUIRE(f.transport->requests().size() == 2);
  json body = f.Body(1);
  CHECK(body["query"].get<std::string>().find("customerRequestDataErasure(customerId: $customerId)") !=
        std::string::npos);
  CHECK(body["variables"] == json{{"customerId", kGid}});
}

TEST_CASE("Shopify erasure of a customer the shop does not hold is already done", "[shopify]") {
  Fixture f;
  f.transport->Enqueue(Ok(LookupResult(json::array())));
  Outcome o = f.Make()->Deliver(Erase());
  CHECK(o.cls == OutcomeClass::kAlreadyDone);
  CHECK(o.code == "not_found");
}

TEST_CASE("Shopify erasure answered DOES_NOT_EXIST is already done", "[shopify]") {
  Fixture f;
  Request r = Erase();
  r.customer.system_id = kGid;
  f.transport->Enqueue(Ok(json::parse(R"({"customerRequestDataErasure":{"customerId":null,
      "userErrors":[{"field":["customerId"],"message":"Customer does not exist","code":"DOES_NOT_EXIST"}]}})")));
  Outcome o = f.Make()->Deliver(r);
  CHECK(o.cls == OutcomeClass::kAlreadyDone);
  CHECK(o.code == "not_found");
}

TEST_CASE("Shopify erasure with another userError fails permanently with its code", "[shopify]") {
  Fixture f;
  Request r = Erase();
  r.customer.system_id = kGid;
  f.transport->Enqueue(Ok(json::parse(R"({"customerRequestDataErasure":{"customerId":null,
      "userErrors":[{"field":null,"message":"Failed for jane@example.com","code":"FAILED_TO_REQUEST"}]}})")));
  Outcome o = f.Make()->Deliver(r);
  CHECK(o.cls == OutcomeClass::kPermanent);
  CHECK(o.code == "user_error_failed_to_request");
}

TEST_CASE("Shopify erasure with erasure_confirmation on_accept is done at once", "[shopify]") {
  Fixture f;
  f.settings.erasure_confirmation = "on_accept";
  Request r = Erase();
  r.customer.system_id = kGid;
  f.transport->Enqueue(Ok({{"customerRequestDataErasure", {{"customerId", kGid}, {"userErrors", json::array()}}}}));
  auto a = f.Make();
  Outcome o = a->Deliver(r);
  CHECK(o.cls == OutcomeClass::kDone);
  CHECK(o.reference == kGid);
  CHECK(a->Confirm(r, kGid).cls == OutcomeClass::kDone);
  CHECK(f.transport->requests().size() == 1);
}

TEST_CASE("Shopify confirms an erasure once the customer no longer resolves", "[shopify]") {
  Fixture f;
  auto a = f.Make();
  f.transport->Enqueue(Ok({{"customer", {{"id", kGid}}}}));
  Outcome pending = a->Confirm(Erase(), kGid);
  CHECK(pending.cls == OutcomeClass::kAccepted);
  CHECK(pending.code == "erasure_pending");
  CHECK(pending.reference == kGid);
  f.transport->Enqueue(Ok({{"customer", nullptr}}));
  Outcome done = a->Confirm(Erase(), kGid);
  CHECK(done.cls == OutcomeClass::kDone);
  CHECK(done.code == "erased");
  json body = f.Body(1);
  CHECK(body["query"].get<std::string>().find("customer(id: $id)") != std::string::npos);
  CHECK(body["variables"] == json{{"id", kGid}});
}

TEST_CASE("Shopify Confirm of a forged reference fails without a call", "[shopify]") {
  Fixture f;
  Outcome o = f.Make()->Confirm(Erase(), "https://evil.example/x");
  CHECK(o.cls == OutcomeClass::kPermanent);
  CHECK(o.code == "bad_reference");
  CHECK(f.transport->requests().empty());
}

TEST_CASE("Shopify Confirm of a consent change is done", "[shopify]") {
  Fixture f;
  CHECK(f.Make()->Confirm(Consent("email", true), "").cls == OutcomeClass::kDone);
}

TEST_CASE("Shopify THROTTLED is retried after the points missing at the restore rate", "[shopify]") {
  Fixture f;
  Request r = Consent("email", true);
  r.customer.system_id = kGid;
  f.transport->Enqueue(FakeHttpTransport::Respond(200, R"({"errors":[{"message":"Throttled",
      "extensions":{"code":"THROTTLED","documentation":"https://shopify.dev/api/usage/rate-limits"}}],
      "extensions":{"cost":{"requestedQueryCost":101,"actualQueryCost":null,
      "throttleStatus":{"maximumAvailable":1000.0,"currentlyAvailable":1,"restoreRate":50.0}}}})"));
  Outcome o = f.Make()->Deliver(r);
  CHECK(o.cls == OutcomeClass::kRetry);
  CHECK(o.code == "THROTTLED");
  CHECK(o.http_status == 200);
  CHECK(o.retry_after_ms == 2000);
}

TEST_CASE("Shopify THROTTLED without a cost hint waits one second", "[shopify]") {
  Fixture f;
  Request r = Consent("email", true);
  r.customer.system_id = kGid;
  f.transport->Enqueue(FakeHttpTransport::Respond(200, R"({"errors":[{"message":"Throttled","extensions":{"code":"THROTTLED"}}]})"));
  f.transport->Enqueue(FakeHttpTransport::Respond(200, R"({"errors":[{"message":"Throttled","extensions":{"code":"THROTTLED"}}],
      "extensions":{"cost":{"requestedQueryCost":10,"throttleStatus":{"currentlyAvailable":0,"restoreRate":0}}}})"));
  auto a = f.Make();
  CHECK(a->Deliver(r).retry_after_ms == 1000);
  CHECK(a->Deliver(r).retry_after_ms == 1000);
}

TEST_CASE("Shopify REST-style 429 with a fractional Retry-After is retried after it", "[shopify]") {
  Fixture f;
  Request r = Consent("email", true);
  r.customer.system_id = kGid;
  f.transport->Enqueue(FakeHttpTransport::Respond(429, R"({"errors":"Exceeded 2 calls per second for api client."})",
                                                  {{"Retry-After", "2.0"}}));
  Outcome o = f.Make()->Deliver(r);
  CHECK(o.cls == OutcomeClass::kRetry);
  CHECK(o.code == "http_429");
  CHECK(o.retry_after_ms == 2000);
}

TEST_CASE("Shopify 401 asks for re-authentication, which a Shopify token cannot do", "[shopify]") {
  Fixture f;
  Request r = Consent("email", true);
  r.customer.system_id = kGid;
  f.transport->Enqueue(FakeHttpTransport::Respond(401, R"x({"errors":"[API] Invalid API key or access token (unrecognized login or wrong password)"})x"));
  auto a = f.Make();
  Outcome o = a->Deliver(r);
  CHECK(o.cls == OutcomeClass::kReauthenticate);
  CHECK(o.code == "http_401");
  CHECK_FALSE(a->Reauthenticate());
}

TEST_CASE("Shopify 5xx and transport failures are retried", "[shopify]") {
  Fixture f;
  Request r = Consent("email", true);
  r.customer.system_id = kGid;
  auto a = f.Make();
  f.transport->Enqueue(FakeHttpTransport::Respond(503, "<html>unavailable</html>"));
  CHECK(a->Deliver(r).code == "http_503");
  f.transport->Enqueue(FakeHttpTransport::Fail(TransportError::kTimeout));
  Outcome t = a->Deliver(r);
  CHECK(t.cls == OutcomeClass::kRetry);
  CHECK(t.code == "timeout");
  f.transport->Enqueue(FakeHttpTransport::Fail(TransportError::kConnectionDropped));
  CHECK(a->Deliver(r).code == "connection_dropped");
  f.transport->Enqueue(FakeHttpTransport::Fail(TransportError::kConnectionRefused));
  Outcome refused = a->Deliver(r);
  CHECK(refused.cls == OutcomeClass::kRetry);
  CHECK(refused.code == "connection_refused");
}

TEST_CASE("Shopify lookup failures stop the delivery with the lookup's outcome", "[shopify]") {
  Fixture f;
  f.transport->Enqueue(FakeHttpTransport::Respond(502, ""));
  Outcome o = f.Make()->Deliver(Erase());
  CHECK(o.cls == OutcomeClass::kRetry);
  CHECK(o.code == "http_502");
  CHECK(f.transport->requests().size() == 1);
}

TEST_CASE("Shopify unparseable body is retried as malformed_response", "[shopify]") {
  Fixture f;
  Request r = Consent("email", true);
  r.customer.system_id = kGid;
  for (const char* body : {"", "{\"data\":", "<html>proxy</html>", "[1,2]", "null"}) {
    f.transport->Enqueue(FakeHttpTransport::Respond(200, body));
    Outcome o = f.Make()->Deliver(r);
    CAPTURE(body);
    CHECK(o.cls == OutcomeClass::kRetry);
    CHECK(o.code == "malformed_response");
  }
}

TEST_CASE("Shopify JSON without the expected members fails permanently as malformed_response", "[shopify]") {
  Fixture f;
  Request r = Consent("email", true);
  r.customer.system_id = kGid;
  for (const char* body : {R"({})", R"({"data":null})", R"({"data":{}})",
                           R"({"data":{"customerEmailMarketingConsentUpdate":"yes"}})",
                           R"({"data":{"customerEmailMarketingConsentUpdate":{"userErrors":"none"}}})"}) {
    f.transport->Enqueue(FakeHttpTransport::Respond(200, body));
    Outcome o = f.Make()->Deliver(r);
    CAPTURE(body);
    CHECK(o.cls == OutcomeClass::kPermanent);
    CHECK(o.code == "malformed_response");
  }
  Outcome lo;
  f.transport->Enqueue(Ok({{"customers", {{"edges", json::array()}}}}));
  CHECK_FALSE(f.Make()->Lookup(Consent("email", true).customer, &lo).has_value());
  CHECK(lo.code == "malformed_response");
}

TEST_CASE("Shopify top-level GraphQL errors other than throttling fail permanently with their code", "[shopify]") {
  Fixture f;
  Request r = Consent("email", true);
  r.customer.system_id = kGid;
  f.transport->Enqueue(FakeHttpTransport::Respond(200, R"({"errors":[{"message":"Access denied for customerEmailMarketingConsentUpdate field.",
      "extensions":{"code":"ACCESS_DENIED"}}]})"));
  CHECK(f.Make()->Deliver(r).code == "graphql_access_denied");
  f.transport->Enqueue(FakeHttpTransport::Respond(200, R"({"errors":[{"message":"Parse error on \"jane@example.com\""}]})"));
  Outcome o = f.Make()->Deliver(r);
  CHECK(o.cls == OutcomeClass::kPermanent);
  CHECK(o.code == "graphql_error");
  f.transport->Enqueue(FakeHttpTransport::Respond(200, R"({"errors":[{"message":"Internal error","extensions":{"code":"INTERNAL_SERVER_ERROR"}}]})"));
  CHECK(f.Make()->Deliver(r).cls == OutcomeClass::kRetry);
}

TEST_CASE("Shopify error codes are reduced to safe characters", "[shopify]") {
  Fixture f;
  Request r = Consent("email", true);
  r.customer.system_id = kGid;
  f.transport->Enqueue(FakeHttpTransport::Respond(200, R"({"errors":[{"message":"x","extensions":{"code":"jane@example.com <script>"}}]})"));
  Outcome o = f.Make()->Deliver(r);
  CHECK(o.code == "graphql_janeexamplecomscript");
  CHECK(o.code.find('@') == std::string::npos);
}

TEST_CASE("Shopify consent userError for a customer that still exists fails permanently", "[shopify]") {
  Fixture f;
  Request r = Consent("email", true);
  r.customer.system_id = kGid;
  f.transport->Enqueue(Ok(json::parse(R"({"customerEmailMarketingConsentUpdate":{"customer":null,
      "userErrors":[{"field":["input","emailMarketingConsent"],"message":"Email can't be blank","code":"INVALID"}]}})")));
  f.transport->Enqueue(Ok({{"customer", {{"id", kGid}}}}));
  Outcome o = f.Make()->Deliver(r);
  CHECK(o.cls == OutcomeClass::kPermanent);
  CHECK(o.code == "user_error_invalid");
  CHECK(f.Body(1)["variables"] == json{{"id", kGid}});
}

TEST_CASE("Shopify consent userError for a customer that no longer exists is done with not_found", "[shopify]") {
  Fixture f;
  Request r = Consent("email", false);
  r.customer.system_id = kGid;
  f.transport->Enqueue(Ok(json::parse(R"({"customerEmailMarketingConsentUpdate":{"customer":null,
      "userErrors":[{"field":["input","customerId"],"message":"Customer not found","code":"INVALID"}]}})")));
  f.transport->Enqueue(Ok({{"customer", nullptr}}));
  Outcome o = f.Make()->Deliver(r);
  CHECK(o.cls == OutcomeClass::kDone);
  CHECK(o.code == "not_found");
}

TEST_CASE("Shopify bounds what it copies from oversized or hostile answers", "[shopify]") {
  Fixture f;
  Request r = Consent("email", true);
  r.customer.system_id = kGid;
  // A 4 MiB body that is not JSON.
  f.transport->Enqueue(FakeHttpTransport::Respond(200, std::string(4 << 20, 'x')));
  Outcome big = f.Make()->Deliver(r);
  CHECK(big.cls == OutcomeClass::kRetry);
  CHECK(big.code == "malformed_response");
  // A userError code of 10,000 characters is cut to 48.
  json user_errors = json::array({{{"field", nullptr}, {"message", "m"}, {"code", std::string(10000, 'A')}}});
  f.transport->Enqueue(Ok({{"customerEmailMarketingConsentUpdate", {{"customer", nullptr}, {"userErrors", user_errors}}}}));
  f.transport->Enqueue(Ok({{"customer", {{"id", kGid}}}}));
  Outcome coded = f.Make()->Deliver(r);
  CHECK(coded.cls == OutcomeClass::kPermanent);
  CHECK(coded.code == "user_error_" + std::string(48, 'a'));
  // A throttle hint asking for hours is capped at a minute.
  f.transport->Enqueue(FakeHttpTransport::Respond(200, R"({"errors":[{"message":"Throttled","extensions":{"code":"THROTTLED"}}],
      "extensions":{"cost":{"requestedQueryCost":1e12,"throttleStatus":{"currentlyAvailable":0,"restoreRate":0.001}}}})"));
  CHECK(f.Make()->Deliver(r).retry_after_ms == 60000);
  // A lookup answer with thousands of near matches still finds nothing wrong.
  json nodes = json::array();
  for (int i = 0; i < 5000; ++i) nodes.push_back({{"id", "gid://shopify/Customer/" + std::to_string(i)}, {"email", "jane@example.com" + std::to_string(i)}});
  f.transport->Enqueue(Ok(LookupResult(nodes)));
  Outcome lo;
  CHECK(f.Make()->Lookup(Consent("email", true).customer, &lo) == std::string());
  CHECK(lo.code == "not_found");
}

TEST_CASE("Shopify answers a replayed delivery the same way (consent mutations set a state)", "[shopify]") {
  Fixture f;
  Request r = Consent("email", false);
  r.customer.system_id = kGid;
  f.transport->Enqueue(Ok(ConsentOk()));
  f.transport->Enqueue(Ok(ConsentOk()));
  auto a = f.Make();
  CHECK(a->Deliver(r).cls == OutcomeClass::kDone);
  CHECK(a->Deliver(r).cls == OutcomeClass::kDone);
  REQUIRE(f.transport->requests().size() == 2);
  CHECK(f.transport->requests()[0].body == f.transport->requests()[1].body);
}

TEST_CASE("Shopify lookup ignores nodes whose id is not a customer GID", "[shopify]") {
  Fixture f;
  f.transport->Enqueue(Ok(LookupResult(json::parse(R"([
      {"id":"gid://shopify/Order/5","email":"jane@example.com"},
      {"id":42,"email":"jane@example.com"},
      {"email":"jane@example.com"}])"))));
  Outcome lo;
  CHECK(f.Make()->Lookup(Consent("email", true).customer, &lo) == std::string());
  CHECK(lo.code == "not_found");
}

}  // namespace
}  // namespace consentd::adapters
