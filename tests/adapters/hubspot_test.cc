// The HubSpot adapter against FakeHttpTransport: the exact requests it sends
// and how each kind of answer maps to an outcome (downstream-apis.md §3).
#include "adapters/hubspot.h"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "adapters/factory.h"
#include "adapters/fake_http_transport.h"

namespace consentd::adapters {
namespace {

using nlohmann::json;

constexpr int64_t kNow = 1445412480000;  // Wed, 21 Oct 2015 07:28:00 GMT

struct Fixture {
  explicit Fixture(std::string preferences_api = "v4") {
    config.system_id = "hubspot-main";
    config.base_url = "https://api.hubapi.com";
    config.api_version = "v3";
    config.credentials = {{"access_token", "pat-test-token"}};
    config.timeout_ms = 1234;
    HubSpotSettings s;
    s.subscription_ids = {{"email_marketing", "7"}, {"newsletter", "12345678"}};
    s.preferences_api = std::move(preferences_api);
    config.settings = s;
    auto made = MakeAdapter("hubspot", config, transport, clock);
    REQUIRE(made.ok());
    adapter = std::move(made).value();
  }
  AdapterConfig config;
  std::shared_ptr<FakeHttpTransport> transport = std::make_shared<FakeHttpTransport>();
  FakeClock clock{kNow};
  std::unique_ptr<Adapter> adapter;
};

Request Consent(bool granted, std::string purpose = "email_marketing", std::string email = "jane+tag@example.com") {
  Request r;
  r.op = Operation::kSetConsent;
  r.purpose = std::move(purpose);
  r.channel = "email";
  r.granted = granted;
  r.occurred_at_ms = kNow - 1000;
  r.idempotency_key = "entry42-hubspot-main";
  r.customer.email = std::move(email);
  return r;
}

Request Erase(std::string email = "jane+tag@example.com", std::string id = "") {
  Request r;
  r.op = Operation::kErase;
  r.idempotency_key = "entry43-hubspot-main";
  r.customer.email = std::move(email);
  r.customer.system_id = std::move(id);
  return r;
}

std::string V4Answer(const std::string& status, int subscription_id = 7) {
  return json{{"status", "COMPLETE"},
              {"results",
               {{{"channel", "EMAIL"},
                 {"status", status},
                 {"subscriberIdString", "jane+tag@example.com"},
                 {"subscriptionId", subscription_id}}}},
              {"startedAt", "2015-10-21T07:28:00Z"},
              {"completedAt", "2015-10-21T07:28:00Z"}}
      .dump();
}

std::string HeaderOf(const HttpRequest& r, const std::string& name) {
  for (const auto& [k, v] : r.headers) {
    if (k == name) return v;
  }
  return "";
}

TEST_CASE("HubSpot v4: a grant posts SUBSCRIBED for the subscription type to the email's status", "[hubspot]") {
  Fixture f;
  f.transport->Enqueue(FakeHttpTransport::Respond(200, V4Answer("SUBSCRIBED")));
  Outcome o = f.adapter->Deliver(Consent(true));
  CHECK(o.cls == OutcomeClass::kDone);
  CHECK(o.code == "ok");
  CHECK(o.http_status == 200);
  auto reqs = f.transport->requests();
  REQUIRE(reqs.size() == 1);
  CHECK(reqs[0].method == "POST");
  CHECK(reqs[0].url == "https://api.hubapi.com/communication-preferences/v4/statuses/jane%2Btag%40example.com");
  CHECK(HeaderOf(reqs[0], "Authorization") == "Bearer pat-test-token");
  CHECK(HeaderOf(reqs[0], "Accept") == "application/json");
  CHECK(reqs[0].content_type == "application/json");
  CHECK(reqs[0].timeout_ms == 1234);
  CHECK(json::parse(reqs[0].body) == json{{"channel", "EMAIL"},
                                          {"statusState", "SUBSCRIBED"},
                                          {"subscriptionId", 7},
                                          {"legalBasis", "CONSENT_WITH_NOTICE"},
                                          {"legalBasisExplanation", "Consent decision recorded by consentd"}});
}

TEST_CASE("HubSpot v4: a withdrawal posts NOT_SUBSCRIBED", "[hubspot]") {
  Fixture f;
  f.transport->Enqueue(FakeHttpTransport::Respond(200, V4Answer("NOT_SUBSCRIBED", 12345678)));
  Outcome o = f.adapter->Deliver(Consent(false, "newsletter"));
  CHECK(o.cls == OutcomeClass::kDone);
  auto body = json::parse(f.transport->requests().at(0).body);
  CHECK(body["statusState"] == "NOT_SUBSCRIBED");
  CHECK(body["subscriptionId"] == 12345678);
}

TEST_CASE("HubSpot v3: grants and withdrawals use the subscribe and unsubscribe endpoints", "[hubspot]") {
  Fixture f("v3");
  f.transport->Enqueue(FakeHttpTransport::Respond(200, R"({"id":"7","status":"SUBSCRIBED","sourceOfStatus":"SUBSCRIPTION_STATUS"})"));
  f.transport->Enqueue(FakeHttpTransport::Respond(200, R"({"id":"7","status":"NOT_SUBSCRIBED"})"));
  CHECK(f.adapter->Deliver(Consent(true)).cls == OutcomeClass::kDone);
  CHECK(f.adapter->Deliver(Consent(false)).cls == OutcomeClass::kDone);
  auto reqs = f.transport->requests();
  REQUIRE(reqs.size() == 2);
  CHECK(reqs[0].method == "POST");
  CHECK(reqs[0].url == "https://api.hubapi.com/communication-preferences/v3/subscribe");
  CHECK(reqs[1].url == "https://api.hubapi.com/communication-preferences/v3/unsubscribe");
  CHECK(json::parse(reqs[0].body) == json{{"emailAddress", "jane+tag@example.com"},
                                          {"subscriptionId", "7"},
                                          {"legalBasis", "CONSENT_WITH_NOTICE"},
                                          {"legalBasisExplanation", "Consent decision recorded by consentd"}});
}

TEST_CASE("HubSpot v3: a refused re-subscribe of an opted-out address fails permanently", "[hubspot]") {
  Fixture f("v3");
  f.transport->Enqueue(FakeHttpTransport::Respond(
      400, R"({"status":"error","message":"jane+tag@example.com has opted out","category":"VALIDATION_ERROR"})"));
  Outcome o = f.adapter->Deliver(Consent(true));
  CHECK(o.cls == OutcomeClass::kPermanent);
  CHECK(o.code == "resubscribe_refused");
  CHECK(o.http_status == 400);
}

TEST_CASE("HubSpot: a purpose without a subscription type or on another channel is unsupported, and nothing is sent",
          "[hubspot]") {
  Fixture f;
  Outcome o = f.adapter->Deliver(Consent(true, "sms_marketing"));
  CHECK(o.cls == OutcomeClass::kPermanent);
  CHECK(o.code == "unsupported_purpose");
  Request sms = Consent(true);
  sms.channel = "sms";
  CHECK(f.adapter->Deliver(sms).code == "unsupported_purpose");
  CHECK(f.transport->requests().empty());
}

TEST_CASE("HubSpot: a customer without an email cannot get a subscription status", "[hubspot]") {
  Fixture f;
  Outcome o = f.adapter->Deliver(Consent(true, "email_marketing", ""));
  CHECK(o.cls == OutcomeClass::kPermanent);
  CHECK(o.code == "no_email");
  CHECK(f.transport->requests().empty());
}

TEST_CASE("HubSpot: a non-numeric subscription id in the settings fails permanently", "[hubspot]") {
  Fixture f;
  HubSpotSettings s = std::get<HubSpotSettings>(f.config.settings);
  s.subscription_ids["email_marketing"] = "7; DROP";
  f.config.settings = s;
  auto adapter = MakeHubSpotAdapter(f.config, f.transport, f.clock);
  CHECK(adapter->Deliver(Consent(true)).code == "invalid_subscription_id");
  CHECK(f.transport->requests().empty());
}

TEST_CASE("HubSpot: a GDPR delete goes by email and 204 is done", "[hubspot]") {
  Fixture f;
  f.transport->Enqueue(FakeHttpTransport::Respond(204, ""));
  Outcome o = f.adapter->Deliver(Erase("jane+tag@example.com", "123"));
  CHECK(o.cls == OutcomeClass::kDone);
  CHECK(o.http_status == 204);
  auto reqs = f.transport->requests();
  REQUIRE(reqs.size() == 1);
  CHECK(reqs[0].method == "POST");
  CHECK(reqs[0].url == "https://api.hubapi.com/crm/v3/objects/contacts/gdpr-delete");
  CHECK(HeaderOf(reqs[0], "Authorization") == "Bearer pat-test-token");
  CHECK(json::parse(reqs[0].body) == json{{"objectId", "jane+tag@example.com"}, {"idProperty", "email"}});
}

TEST_CASE("HubSpot: a GDPR delete without an email goes by contact id", "[hubspot]") {
  Fixture f;
  f.transport->Enqueue(FakeHttpTransport::Respond(204, ""));
  CHECK(f.adapter->Deliver(Erase("", "1073339460")).cls == OutcomeClass::kDone);
  CHECK(json::parse(f.transport->requests().at(0).body) == json{{"objectId", "1073339460"}});
}

TEST_CASE("HubSpot: a GDPR delete of a contact that is not there is already done", "[hubspot]") {
  Fixture f;
  f.transport->Enqueue(FakeHttpTransport::Respond(
      404, R"({"status":"error","message":"Object not found. objectId are usually numeric.","category":"OBJECT_NOT_FOUND"})"));
  Outcome o = f.adapter->Deliver(Erase("", "1073339460"));
  CHECK(o.cls == OutcomeClass::kAlreadyDone);
  CHECK(o.code == "not_found");
  CHECK(o.http_status == 404);
}

TEST_CASE("HubSpot: an erase with neither email nor a valid id fails permanently without a request", "[hubspot]") {
  Fixture f;
  CHECK(f.adapter->Deliver(Erase("", "")).code == "no_identifier");
  CHECK(f.adapter->Deliver(Erase("", "12/../../x")).code == "invalid_system_id");
  CHECK(f.transport->requests().empty());
}

TEST_CASE("HubSpot: 429 TEN_SECONDLY_ROLLING without Retry-After waits 10 s", "[hubspot]") {
  Fixture f;
  f.transport->Enqueue(FakeHttpTransport::Respond(
      429, R"({"status":"error","message":"You have reached your ten_secondly_rolling limit.","errorType":"RATE_LIMIT","policyName":"TEN_SECONDLY_ROLLING"})"));
  Outcome o = f.adapter->Deliver(Consent(true));
  CHECK(o.cls == OutcomeClass::kRetry);
  CHECK(o.code == "rate_limit_ten_secondly");
  CHECK(o.retry_after_ms == 10000);
}

TEST_CASE("HubSpot: 429 DAILY without Retry-After waits an hour", "[hubspot]") {
  Fixture f;
  f.transport->Enqueue(FakeHttpTransport::Respond(
      429, R"({"status":"error","message":"You have reached your daily limit.","errorType":"RATE_LIMIT","policyName":"DAILY"})"));
  Outcome o = f.adapter->Deliver(Erase());
  CHECK(o.cls == OutcomeClass::kRetry);
  CHECK(o.code == "rate_limit_daily");
  CHECK(o.retry_after_ms == 3600000);
}

TEST_CASE("HubSpot: 429 honours Retry-After in seconds, fractional seconds and HTTP dates", "[hubspot]") {
  const std::string body = R"({"status":"error","errorType":"RATE_LIMIT","policyName":"TEN_SECONDLY_ROLLING"})";
  struct Case {
    std::string header;
    int64_t expected_ms;
  };
  for (const Case& c : {Case{"3", 3000}, Case{"1.5", 1500}, Case{"Wed, 21 Oct 2015 07:28:07 GMT", 7000}}) {
    CAPTURE(c.header);
    Fixture f;
    f.transport->Enqueue(FakeHttpTransport::Respond(429, body, {{"Retry-After", c.header}}));
    Outcome o = f.adapter->Deliver(Consent(false));
    CHECK(o.cls == OutcomeClass::kRetry);
    CHECK(o.retry_after_ms == c.expected_ms);
  }
}

TEST_CASE("HubSpot: 429 with an unknown policy is retried with the generic code", "[hubspot]") {
  Fixture f;
  f.transport->Enqueue(FakeHttpTransport::Respond(429, R"({"policyName":"jane@example.com"})"));
  Outcome o = f.adapter->Deliver(Consent(false));
  CHECK(o.cls == OutcomeClass::kRetry);
  CHECK(o.code == "http_429");
  CHECK_FALSE(o.retry_after_ms.has_value());
}

TEST_CASE("HubSpot: 423 Locked waits at least 2 s, 477 migration is retried", "[hubspot]") {
  Fixture f;
  f.transport->Enqueue(FakeHttpTransport::Respond(423, "{}", {{"Retry-After", "1"}}));
  f.transport->Enqueue(FakeHttpTransport::Respond(477, "{}"));
  Outcome locked = f.adapter->Deliver(Consent(true));
  CHECK(locked.cls == OutcomeClass::kRetry);
  CHECK(locked.retry_after_ms == 2000);
  Outcome migrating = f.adapter->Deliver(Consent(true));
  CHECK(migrating.cls == OutcomeClass::kRetry);
  CHECK(migrating.code == "http_477");
}

TEST_CASE("HubSpot: 401 INVALID_AUTHENTICATION is final: the token cannot be refreshed", "[hubspot]") {
  Fixture f;
  f.transport->Enqueue(FakeHttpTransport::Respond(
      401, R"({"status":"error","message":"Authentication credentials not found.","category":"INVALID_AUTHENTICATION"})"));
  Outcome o = f.adapter->Deliver(Consent(true));
  CHECK(o.cls == OutcomeClass::kPermanent);
  CHECK(o.code == "auth_failed");
  CHECK(o.http_status == 401);
  CHECK_FALSE(f.adapter->Reauthenticate());
  CHECK(f.transport->requests().size() == 1);
}

TEST_CASE("HubSpot: other 4xx fail permanently with the error category as code", "[hubspot]") {
  Fixture f;
  f.transport->Enqueue(FakeHttpTransport::Respond(
      403, R"({"status":"error","message":"missing scopes","category":"MISSING_SCOPES"})"));
  Outcome o = f.adapter->Deliver(Consent(true));
  CHECK(o.cls == OutcomeClass::kPermanent);
  CHECK(o.code == "MISSING_SCOPES");
  CHECK(o.http_status == 403);
}

TEST_CASE("HubSpot: codes never echo response text, which can hold the email", "[hubspot]") {
  Fixture f;
  for (const std::string& body :
       {std::string(R"({"category":"jane+tag@example.com","message":"jane+tag@example.com"})"),
        std::string(R"({"category":"VALIDATION_ERROR jane+tag@example.com"})"), std::string("jane+tag@example.com"),
        std::string(R"({"category":")") + std::string(100, 'A') + "\"}"}) {
    CAPTURE(body);
    f.transport->Enqueue(FakeHttpTransport::Respond(400, body));
    Outcome o = f.adapter->Deliver(Consent(false));
    CHECK(o.cls == OutcomeClass::kPermanent);
    CHECK(o.code == "http_400");
  }
}

TEST_CASE("HubSpot: 5xx and transport failures are retried, configuration errors are not", "[hubspot]") {
  Fixture f;
  f.transport->Enqueue(FakeHttpTransport::Respond(503, "upstream down", {{"Retry-After", "4"}}));
  f.transport->Enqueue(FakeHttpTransport::Fail(TransportError::kTimeout));
  f.transport->Enqueue(FakeHttpTransport::Fail(TransportError::kConnectionRefused));
  f.transport->Enqueue(FakeHttpTransport::Fail(TransportError::kConnectionDropped));
  f.transport->Enqueue(FakeHttpTransport::Fail(TransportError::kBadUrl));
  Outcome s503 = f.adapter->Deliver(Consent(true));
  CHECK(s503.cls == OutcomeClass::kRetry);
  CHECK(s503.code == "http_503");
  CHECK(s503.retry_after_ms == 4000);
  for (const char* code : {"timeout", "connection_refused", "connection_dropped"}) {
    Outcome o = f.adapter->Deliver(Erase());
    CHECK(o.cls == OutcomeClass::kRetry);
    CHECK(o.code == code);
    CHECK(o.http_status == 0);
  }
  Outcome bad = f.adapter->Deliver(Erase());
  CHECK(bad.cls == OutcomeClass::kPermanent);
  CHECK(bad.code == "bad_url");
}

TEST_CASE("HubSpot: a 200 that is not the documented status answer is retried", "[hubspot]") {
  for (const std::string& body :
       {std::string("not json"), std::string("{}"), std::string(R"({"status":"COMPLETE","results":[]})"),
        std::string(R"({"status":"COMPLETE","results":[{"channel":"EMAIL"}]})"),
        std::string(R"({"status":"COMPLETE","results":[{"status":7}]})"), std::string(R"([1,2,3])"),
        std::string(1 << 20, '{')}) {
    CAPTURE(body.substr(0, 60));
    Fixture f;
    f.transport->Enqueue(FakeHttpTransport::Respond(200, body));
    Outcome o = f.adapter->Deliver(Consent(true));
    CHECK(o.cls == OutcomeClass::kRetry);
    CHECK(o.code == "malformed_response");
  }
}

TEST_CASE("HubSpot: a v4 batch that is not COMPLETE is retried", "[hubspot]") {
  Fixture f;
  f.transport->Enqueue(FakeHttpTransport::Respond(200, R"({"status":"PROCESSING","results":[{"status":"SUBSCRIBED"}]})"));
  Outcome o = f.adapter->Deliver(Consent(true));
  CHECK(o.cls == OutcomeClass::kRetry);
  CHECK(o.code == "incomplete");
}

TEST_CASE("HubSpot: a 200 reporting another status than the one asked for fails permanently", "[hubspot]") {
  Fixture f;
  f.transport->Enqueue(FakeHttpTransport::Respond(200, V4Answer("NOT_SUBSCRIBED")));
  Outcome o = f.adapter->Deliver(Consent(true));
  CHECK(o.cls == OutcomeClass::kPermanent);
  CHECK(o.code == "status_not_applied");
}

TEST_CASE("HubSpot: Lookup reads the contact by email and returns its id", "[hubspot]") {
  Fixture f;
  f.transport->Enqueue(FakeHttpTransport::Respond(
      200, R"({"id":"1073339460","properties":{"email":"jane+tag@example.com"},"archived":false})"));
  Customer c;
  c.email = "jane+tag@example.com";
  Outcome o;
  auto id = f.adapter->Lookup(c, &o);
  REQUIRE(id.has_value());
  CHECK(*id == "1073339460");
  CHECK(o.cls == OutcomeClass::kDone);
  CHECK(o.system_id == "1073339460");
  auto reqs = f.transport->requests();
  REQUIRE(reqs.size() == 1);
  CHECK(reqs[0].method == "GET");
  CHECK(reqs[0].url == "https://api.hubapi.com/crm/v3/objects/contacts/jane%2Btag%40example.com?idProperty=email");
  CHECK(reqs[0].body.empty());
}

TEST_CASE("HubSpot: Lookup of an unknown email is an empty id, failures and garbage are nullopt", "[hubspot]") {
  Fixture f;
  Customer c;
  c.email = "nobody@example.com";
  Outcome o;
  f.transport->Enqueue(FakeHttpTransport::Respond(404, R"({"category":"OBJECT_NOT_FOUND"})"));
  auto none = f.adapter->Lookup(c, &o);
  REQUIRE(none.has_value());
  CHECK(none->empty());
  CHECK(o.code == "not_found");

  f.transport->Enqueue(FakeHttpTransport::Respond(200, R"({"id":"../../admin"})"));
  CHECK_FALSE(f.adapter->Lookup(c, &o).has_value());
  CHECK(o.cls == OutcomeClass::kRetry);
  CHECK(o.code == "malformed_response");

  f.transport->Enqueue(FakeHttpTransport::Respond(429, R"({"policyName":"TEN_SECONDLY_ROLLING"})"));
  CHECK_FALSE(f.adapter->Lookup(c, &o).has_value());
  CHECK(o.cls == OutcomeClass::kRetry);

  Customer no_email;
  CHECK_FALSE(f.adapter->Lookup(no_email, &o).has_value());
  CHECK(o.code == "no_email");
}

TEST_CASE("HubSpot: Confirm has nothing to wait for", "[hubspot]") {
  Fixture f;
  CHECK(f.adapter->Confirm(Erase(), "anything").cls == OutcomeClass::kDone);
  CHECK(f.transport->requests().empty());
}

}  // namespace
}  // namespace consentd::adapters
