// The Salesforce adapter against FakeHttpTransport: the exact requests it
// sends and how each kind of answer maps to an outcome (downstream-apis.md §4).
#include "adapters/salesforce.h"

#include <catch2/catch.hpp>
#include <chrono>
#include <nlohmann/json.hpp>
#include <thread>

#include "adapters/factory.h"
#include "adapters/fake_http_transport.h"
#include "adapters/percent_encode.h"

namespace consentd::adapters {
namespace {

using nlohmann::json;

constexpr int64_t kNow = 1445412480000;  // Wed, 21 Oct 2015 07:28:00 GMT
const std::string kBase = "https://acme.my.salesforce.com";
const std::string kData = kBase + "/services/data/v60.0";
const std::string kC1 = "003000000000001AAA";
const std::string kC2 = "003000000000002AAA";
const std::string kI1 = "0PK000000000001AAA";

struct Fixture {
  explicit Fixture(bool refreshable = true, std::string object = "Contact") {
    config.system_id = "sf-main";
    config.base_url = kBase;
    config.api_version = "v60.0";
    config.credentials = {{"access_token", "tok-1"}};
    if (refreshable) {
      config.credentials["client_id"] = "3MVG9 client";
      config.credentials["client_secret"] = "s&cret=1";
      config.credentials["refresh_token"] = "5Aep+refresh/1";
    }
    config.timeout_ms = 2345;
    SalesforceSettings s;
    s.object = std::move(object);
    s.fields["email_marketing"] = {"HasOptedOutOfEmail", true};
    s.fields["sms_marketing"] = {"SMS_Opt_In__c", false};
    s.fields["profiling"] = {"Individual.HasOptedOutProfiling", true};
    s.fields["email_consent"] = {"ContactPointTypeConsent.Email", true};
    s.status_granted = "Opt_In";
    s.status_withdrawn = "Opt_Out";
    config.settings = s;
    auto made = MakeAdapter("salesforce", config, transport, clock);
    REQUIRE(made.ok());
    adapter = std::move(made).value();
  }
  AdapterConfig config;
  std::shared_ptr<FakeHttpTransport> transport = std::make_shared<FakeHttpTransport>();
  FakeClock clock{kNow};
  std::unique_ptr<Adapter> adapter;
};

Request Consent(bool granted, std::string purpose = "email_marketing", std::string email = "jane@example.com",
                std::string id = "") {
  Request r;
  r.op = Operation::kSetConsent;
  r.purpose = std::move(purpose);
  r.channel = "email";
  r.granted = granted;
  r.occurred_at_ms = kNow - 60000;
  r.idempotency_key = "entry7-sf-main";
  r.customer.email = std::move(email);
  r.customer.system_id = std::move(id);
  return r;
}

Request Erase(std::string email = "jane@example.com", std::string id = "") {
  Request r;
  r.op = Operation::kErase;
  r.idempotency_key = "entry8-sf-main";
  r.customer.email = std::move(email);
  r.customer.system_id = std::move(id);
  return r;
}

HttpResponse Records(std::vector<json> records) {
  json body = {{"totalSize", records.size()}, {"done", true}, {"records", records}};
  return FakeHttpTransport::Respond(200, body.dump());
}

json Rec(const std::string& id, const std::string& individual = "") {
  json r = {{"attributes", {{"type", "Contact"}, {"url", "/services/data/v60.0/sobjects/Contact/" + id}}}, {"Id", id}};
  if (!individual.empty()) r["IndividualId"] = individual;
  return r;
}

HttpResponse Error(int status, const std::string& code, const std::string& message = "something") {
  return FakeHttpTransport::Respond(status, json::array({{{"message", message}, {"errorCode", code}}}).dump());
}

std::string QueryUrl(const std::string& soql) { return kData + "/query?q=" + PercentEncode(soql); }

std::string HeaderOf(const HttpRequest& r, const std::string& name) {
  for (const auto& [k, v] : r.headers) {
    if (k == name) return v;
  }
  return "";
}

TEST_CASE("Salesforce: an opt-out finds the Contact by email with SOQL and patches the inverted field",
          "[salesforce]") {
  Fixture f;
  f.transport->Enqueue(Records({Rec(kC1)}));
  f.transport->Enqueue(FakeHttpTransport::Respond(204, ""));
  Outcome o = f.adapter->Deliver(Consent(false));
  CHECK(o.cls == OutcomeClass::kDone);
  CHECK(o.code == "ok");
  CHECK(o.http_status == 204);
  CHECK(o.system_id == kC1);
  auto reqs = f.transport->requests();
  REQUIRE(reqs.size() == 2);
  CHECK(reqs[0].method == "GET");
  CHECK(reqs[0].url == kData +
                           "/query?q=SELECT%20Id%20FROM%20Contact%20WHERE%20Email%20%3D%20%27jane%40example.com%27%20"
                           "LIMIT%20200");
  CHECK(HeaderOf(reqs[0], "Authorization") == "Bearer tok-1");
  CHECK(reqs[0].timeout_ms == 2345);
  CHECK(reqs[1].method == "PATCH");
  CHECK(reqs[1].url == kData + "/sobjects/Contact/" + kC1);
  CHECK(reqs[1].content_type == "application/json");
  CHECK(HeaderOf(reqs[1], "Authorization") == "Bearer tok-1");
  CHECK(json::parse(reqs[1].body) == json{{"HasOptedOutOfEmail", true}});
}

TEST_CASE("Salesforce: a grant on a HasOptedOut field writes false, a true-means-granted field writes true",
          "[salesforce]") {
  Fixture f;
  f.transport->Enqueue(Records({Rec(kC1)}));
  f.transport->Enqueue(FakeHttpTransport::Respond(204, ""));
  f.transport->Enqueue(Records({Rec(kC1)}));
  f.transport->Enqueue(FakeHttpTransport::Respond(204, ""));
  CHECK(f.adapter->Deliver(Consent(true)).cls == OutcomeClass::kDone);
  CHECK(f.adapter->Deliver(Consent(true, "sms_marketing")).cls == OutcomeClass::kDone);
  auto reqs = f.transport->requests();
  REQUIRE(reqs.size() == 4);
  CHECK(json::parse(reqs[1].body) == json{{"HasOptedOutOfEmail", false}});
  CHECK(json::parse(reqs[3].body) == json{{"SMS_Opt_In__c", true}});
}

TEST_CASE("Salesforce: the known id and the email are both queried, and every matching record is updated",
          "[salesforce]") {
  Fixture f(true, "Lead");
  f.transport->Enqueue(Records({Rec(kC1), Rec(kC2)}));
  f.transport->Enqueue(FakeHttpTransport::Respond(204, ""));
  f.transport->Enqueue(FakeHttpTransport::Respond(204, ""));
  Outcome o = f.adapter->Deliver(Consent(false, "email_marketing", "jane@example.com", kC2));
  CHECK(o.cls == OutcomeClass::kDone);
  auto reqs = f.transport->requests();
  REQUIRE(reqs.size() == 3);
  CHECK(reqs[0].url ==
        QueryUrl("SELECT Id FROM Lead WHERE Id = '" + kC2 + "' OR Email = 'jane@example.com' LIMIT 200"));
  CHECK(reqs[1].url == kData + "/sobjects/Lead/" + kC1);
  CHECK(reqs[2].url == kData + "/sobjects/Lead/" + kC2);
}

TEST_CASE("Salesforce: quotes in an email are escaped inside the SOQL literal", "[salesforce]") {
  Fixture f;
  f.transport->Enqueue(Records({}));
  f.adapter->Deliver(Consent(false, "email_marketing", "o'brien' OR Email != '@example.com"));
  auto reqs = f.transport->requests();
  REQUIRE(reqs.size() == 1);
  CHECK(reqs[0].url == QueryUrl("SELECT Id FROM Contact WHERE Email = 'o\\'brien\\' OR Email != \\'@example.com' "
                                "LIMIT 200"));
}

TEST_CASE("Salesforce: a customer with no record is nothing to update", "[salesforce]") {
  Fixture f;
  f.transport->Enqueue(Records({}));
  Outcome o = f.adapter->Deliver(Consent(false));
  CHECK(o.cls == OutcomeClass::kDone);
  CHECK(o.code == "not_found");
  CHECK(f.transport->requests().size() == 1);
}

TEST_CASE("Salesforce: a record deleted between query and update is nothing to update", "[salesforce]") {
  Fixture f;
  f.transport->Enqueue(Records({Rec(kC1)}));
  f.transport->Enqueue(Error(404, "ENTITY_IS_DELETED"));
  Outcome o = f.adapter->Deliver(Consent(false));
  CHECK(o.cls == OutcomeClass::kDone);
  CHECK(o.code == "not_found");
}

TEST_CASE("Salesforce: unsupported purposes, bad ids, bad emails and bad settings send nothing", "[salesforce]") {
  Fixture f;
  CHECK(f.adapter->Deliver(Consent(true, "ads")).code == "unsupported_purpose");
  CHECK(f.adapter->Deliver(Consent(true, "email_marketing", "", "")).code == "no_identifier");
  CHECK(f.adapter->Deliver(Consent(true, "email_marketing", "", "003' OR Id != '")).code == "invalid_system_id");
  CHECK(f.adapter->Deliver(Consent(true, "email_marketing", "a\x01@example.com")).code == "invalid_email");
  CHECK(f.adapter->Deliver(Erase("", "../../x")).code == "invalid_system_id");
  SalesforceSettings s = std::get<SalesforceSettings>(f.config.settings);
  s.fields["email_marketing"].name = "Email; DROP";
  f.config.settings = s;
  CHECK(MakeSalesforceAdapter(f.config, f.transport, f.clock)->Deliver(Consent(true)).code == "invalid_field_setting");
  s.object = "Contact WHERE";
  f.config.settings = s;
  CHECK(MakeSalesforceAdapter(f.config, f.transport, f.clock)->Deliver(Consent(true)).code == "invalid_object_setting");
  CHECK(f.transport->requests().empty());
}

TEST_CASE("Salesforce: an Individual field is written on the Contact's Individual", "[salesforce]") {
  Fixture f;
  f.transport->Enqueue(Records({Rec(kC1, kI1), Rec(kC2, kI1)}));
  f.transport->Enqueue(FakeHttpTransport::Respond(204, ""));
  Outcome o = f.adapter->Deliver(Consent(false, "profiling"));
  CHECK(o.cls == OutcomeClass::kDone);
  auto reqs = f.transport->requests();
  REQUIRE(reqs.size() == 2);  // one Individual shared by two Contacts: one update
  CHECK(reqs[0].url == QueryUrl("SELECT Id, IndividualId FROM Contact WHERE Email = 'jane@example.com' LIMIT 200"));
  CHECK(reqs[1].method == "PATCH");
  CHECK(reqs[1].url == kData + "/sobjects/Individual/" + kI1);
  CHECK(json::parse(reqs[1].body) == json{{"HasOptedOutProfiling", true}});
}

TEST_CASE("Salesforce: an Individual field for a Contact without an Individual fails permanently", "[salesforce]") {
  Fixture f;
  f.transport->Enqueue(Records({Rec(kC1)}));
  Outcome o = f.adapter->Deliver(Consent(false, "profiling"));
  CHECK(o.cls == OutcomeClass::kPermanent);
  CHECK(o.code == "no_individual");
}

TEST_CASE("Salesforce: a ContactPointTypeConsent is created with the configured status value", "[salesforce]") {
  Fixture f;
  f.transport->Enqueue(Records({Rec(kC1, kI1)}));
  f.transport->Enqueue(Records({}));
  f.transport->Enqueue(FakeHttpTransport::Respond(201, R"({"id":"0ZY000000000001AAA","success":true,"errors":[]})"));
  Outcome o = f.adapter->Deliver(Consent(true, "email_consent"));
  CHECK(o.cls == OutcomeClass::kDone);
  auto reqs = f.transport->requests();
  REQUIRE(reqs.size() == 3);
  CHECK(reqs[1].url == QueryUrl("SELECT Id FROM ContactPointTypeConsent WHERE PartyId = '" + kI1 +
                                "' AND ContactPointType = 'Email' LIMIT 200"));
  CHECK(reqs[2].method == "POST");
  CHECK(reqs[2].url == kData + "/sobjects/ContactPointTypeConsent");
  CHECK(json::parse(reqs[2].body) == json{{"Name", "consentd Email"},
                                          {"PartyId", kI1},
                                          {"ContactPointType", "Email"},
                                          {"PrivacyConsentStatus", "Opt_In"},
                                          {"CaptureDate", "2015-10-21T07:27:00.000Z"},
                                          {"CaptureSource", "consentd"}});
}

TEST_CASE("Salesforce: an existing ContactPointTypeConsent is updated", "[salesforce]") {
  Fixture f;
  f.transport->Enqueue(Records({Rec(kC1, kI1)}));
  f.transport->Enqueue(Records({Rec("0ZY000000000001AAA")}));
  f.transport->Enqueue(FakeHttpTransport::Respond(204, ""));
  CHECK(f.adapter->Deliver(Consent(false, "email_consent")).cls == OutcomeClass::kDone);
  auto reqs = f.transport->requests();
  REQUIRE(reqs.size() == 3);
  CHECK(reqs[2].method == "PATCH");
  CHECK(reqs[2].url == kData + "/sobjects/ContactPointTypeConsent/0ZY000000000001AAA");
  CHECK(json::parse(reqs[2].body) == json{{"PrivacyConsentStatus", "Opt_Out"},
                                          {"CaptureDate", "2015-10-21T07:27:00.000Z"},
                                          {"CaptureSource", "consentd"}});
}

TEST_CASE("Salesforce: erase flags the Individual ShouldForget, then deletes the Contact", "[salesforce]") {
  Fixture f;
  f.transport->Enqueue(Records({Rec(kC1, kI1)}));
  f.transport->Enqueue(FakeHttpTransport::Respond(204, ""));
  f.transport->Enqueue(FakeHttpTransport::Respond(204, ""));
  Outcome o = f.adapter->Deliver(Erase("jane@example.com", kC1));
  CHECK(o.cls == OutcomeClass::kDone);
  CHECK(o.http_status == 204);
  auto reqs = f.transport->requests();
  REQUIRE(reqs.size() == 3);
  CHECK(reqs[0].url == QueryUrl("SELECT Id, IndividualId FROM Contact WHERE Id = '" + kC1 +
                                "' OR Email = 'jane@example.com' LIMIT 200"));
  CHECK(reqs[1].method == "PATCH");
  CHECK(reqs[1].url == kData + "/sobjects/Individual/" + kI1);
  CHECK(json::parse(reqs[1].body) == json{{"ShouldForget", true}});
  CHECK(reqs[2].method == "DELETE");
  CHECK(reqs[2].url == kData + "/sobjects/Contact/" + kC1);
  CHECK(reqs[2].body.empty());
}

TEST_CASE("Salesforce: an Individual flag refused for good does not stop the delete, a transient failure retries",
          "[salesforce]") {
  Fixture f;
  f.transport->Enqueue(Records({Rec(kC1, kI1)}));
  f.transport->Enqueue(Error(403, "INSUFFICIENT_ACCESS_OR_READONLY"));
  f.transport->Enqueue(FakeHttpTransport::Respond(204, ""));
  Outcome o = f.adapter->Deliver(Erase());
  CHECK(o.cls == OutcomeClass::kDone);
  CHECK(o.code == "individual_not_flagged");
  REQUIRE(f.transport->requests().size() == 3);
  CHECK(f.transport->requests()[2].method == "DELETE");

  f.transport->Enqueue(Records({Rec(kC1, kI1)}));
  f.transport->Enqueue(Error(503, "SERVER_UNAVAILABLE"));
  Outcome busy = f.adapter->Deliver(Erase());
  CHECK(busy.cls == OutcomeClass::kRetry);
  CHECK(f.transport->requests().size() == 5);  // no delete before the flag is in place
}

TEST_CASE("Salesforce: erase of a customer with no record, or already deleted, is already done", "[salesforce]") {
  Fixture f;
  f.transport->Enqueue(Records({}));
  Outcome none = f.adapter->Deliver(Erase());
  CHECK(none.cls == OutcomeClass::kAlreadyDone);
  CHECK(none.code == "not_found");

  f.transport->Enqueue(Records({Rec(kC1)}));
  f.transport->Enqueue(Error(404, "ENTITY_IS_DELETED", "entity is deleted"));
  Outcome deleted = f.adapter->Deliver(Erase());
  CHECK(deleted.cls == OutcomeClass::kAlreadyDone);
  CHECK(deleted.code == "ENTITY_IS_DELETED");

  f.transport->Enqueue(Records({Rec(kC1)}));
  f.transport->Enqueue(Error(404, "NOT_FOUND", "The requested resource does not exist"));
  CHECK(f.adapter->Deliver(Erase()).cls == OutcomeClass::kAlreadyDone);
}

TEST_CASE("Salesforce: in an org without Individuals, erase queries again without IndividualId", "[salesforce]") {
  Fixture f;
  f.transport->Enqueue(Error(400, "INVALID_FIELD", "No such column 'IndividualId' on entity 'Contact'."));
  f.transport->Enqueue(Records({Rec(kC1)}));
  f.transport->Enqueue(FakeHttpTransport::Respond(204, ""));
  CHECK(f.adapter->Deliver(Erase()).cls == OutcomeClass::kDone);
  auto reqs = f.transport->requests();
  REQUIRE(reqs.size() == 3);
  CHECK(reqs[1].url == QueryUrl("SELECT Id FROM Contact WHERE Email = 'jane@example.com' LIMIT 200"));
  CHECK(reqs[2].method == "DELETE");
}

TEST_CASE("Salesforce: INVALID_SESSION_ID asks to re-authenticate, the refresh swaps in the new token",
          "[salesforce]") {
  Fixture f;
  f.transport->Enqueue(Error(401, "INVALID_SESSION_ID", "Session expired or invalid"));
  Outcome o = f.adapter->Deliver(Consent(false));
  CHECK(o.cls == OutcomeClass::kReauthenticate);
  CHECK(o.code == "INVALID_SESSION_ID");

  f.transport->Enqueue(FakeHttpTransport::Respond(
      200, R"({"access_token":"tok-2","instance_url":"https://acme.my.salesforce.com","token_type":"Bearer","issued_at":"1"})"));
  REQUIRE(f.adapter->Reauthenticate());
  f.transport->Enqueue(Records({}));
  f.adapter->Deliver(Consent(false));
  auto reqs = f.transport->requests();
  REQUIRE(reqs.size() == 3);
  CHECK(reqs[1].method == "POST");
  CHECK(reqs[1].url == kBase + "/services/oauth2/token");
  CHECK(reqs[1].content_type == "application/x-www-form-urlencoded");
  CHECK(reqs[1].body ==
        "grant_type=refresh_token&client_id=3MVG9%20client&client_secret=s%26cret%3D1&refresh_token=5Aep%2Brefresh%2F1");
  CHECK(HeaderOf(reqs[1], "Authorization").empty());
  CHECK(HeaderOf(reqs[2], "Authorization") == "Bearer tok-2");
}

TEST_CASE("Salesforce: a rotated refresh token is used for the next refresh", "[salesforce]") {
  Fixture f;
  f.transport->Enqueue(FakeHttpTransport::Respond(200, R"({"access_token":"tok-2","refresh_token":"rt-2"})"));
  f.transport->Enqueue(FakeHttpTransport::Respond(200, R"({"access_token":"tok-3"})"));
  REQUIRE(f.adapter->Reauthenticate());
  REQUIRE(f.adapter->Reauthenticate());
  auto reqs = f.transport->requests();
  REQUIRE(reqs.size() == 2);
  CHECK(reqs[1].body.find("&refresh_token=rt-2") != std::string::npos);
}

TEST_CASE("Salesforce: a failed refresh keeps the old token and answers false", "[salesforce]") {
  Fixture f;
  f.transport->Enqueue(FakeHttpTransport::Respond(400, R"({"error":"invalid_grant","error_description":"expired access/refresh token"})"));
  f.transport->Enqueue(FakeHttpTransport::Respond(200, "not json"));
  f.transport->Enqueue(FakeHttpTransport::Respond(200, R"({"access_token":""})"));
  f.transport->Enqueue(FakeHttpTransport::Fail(TransportError::kTimeout));
  for (int i = 0; i < 4; ++i) CHECK_FALSE(f.adapter->Reauthenticate());
  f.transport->Enqueue(Records({}));
  f.adapter->Deliver(Consent(false));
  CHECK(HeaderOf(f.transport->requests().back(), "Authorization") == "Bearer tok-1");
}

TEST_CASE("Salesforce: without refresh credentials a 401 is final and nothing is refreshed", "[salesforce]") {
  Fixture f(false);
  f.transport->Enqueue(Error(401, "INVALID_SESSION_ID", "Session expired or invalid"));
  Outcome o = f.adapter->Deliver(Consent(false));
  CHECK(o.cls == OutcomeClass::kPermanent);
  CHECK(o.code == "auth_failed");
  CHECK_FALSE(f.adapter->Reauthenticate());
  CHECK(f.transport->requests().size() == 1);
}

TEST_CASE("Salesforce: callers waiting on a refresh in progress share its token", "[salesforce]") {
  Fixture f;
  f.transport->SetHandler([](const HttpRequest& r) {
    if (r.url.find("/oauth2/token") != std::string::npos) {
      std::this_thread::sleep_for(std::chrono::milliseconds(300));
      return FakeHttpTransport::Respond(200, R"({"access_token":"tok-2"})");
    }
    return FakeHttpTransport::Respond(500, "");
  });
  std::vector<std::thread> threads;
  std::atomic<int> ok{0};
  for (int i = 0; i < 4; ++i) {
    threads.emplace_back([&] {
      if (f.adapter->Reauthenticate()) ++ok;
    });
  }
  for (auto& t : threads) t.join();
  CHECK(ok == 4);
  CHECK(f.transport->requests().size() == 1);
}

TEST_CASE("Salesforce: 403 REQUEST_LIMIT_EXCEEDED is retried, other 403s are not", "[salesforce]") {
  Fixture f;
  f.transport->Enqueue(Error(403, "REQUEST_LIMIT_EXCEEDED", "TotalRequests Limit exceeded."));
  Outcome o = f.adapter->Deliver(Consent(false));
  CHECK(o.cls == OutcomeClass::kRetry);
  CHECK(o.code == "REQUEST_LIMIT_EXCEEDED");
  CHECK(o.http_status == 403);
  CHECK_FALSE(o.retry_after_ms.has_value());

  f.transport->Enqueue(FakeHttpTransport::Respond(
      403, R"([{"message":"x","errorCode":"REQUEST_LIMIT_EXCEEDED"}])", {{"Retry-After", "Wed, 21 Oct 2015 07:29:00 GMT"}}));
  CHECK(f.adapter->Deliver(Consent(false)).retry_after_ms == 60000);
  f.transport->Enqueue(FakeHttpTransport::Respond(403, R"([{"errorCode":"REQUEST_LIMIT_EXCEEDED"}])", {{"Retry-After", "2.5"}}));
  CHECK(f.adapter->Deliver(Consent(false)).retry_after_ms == 2500);

  f.transport->Enqueue(Error(403, "INSUFFICIENT_ACCESS_OR_READONLY"));
  Outcome denied = f.adapter->Deliver(Consent(false));
  CHECK(denied.cls == OutcomeClass::kPermanent);
  CHECK(denied.code == "INSUFFICIENT_ACCESS_OR_READONLY");
}

TEST_CASE("Salesforce: the error code comes from errorCode, never from message", "[salesforce]") {
  Fixture f;
  f.transport->Enqueue(Records({Rec(kC1)}));
  f.transport->Enqueue(Error(400, "INVALID_EMAIL_ADDRESS", "Email: invalid email address: jane@example.com"));
  Outcome o = f.adapter->Deliver(Consent(false));
  CHECK(o.cls == OutcomeClass::kPermanent);
  CHECK(o.code == "INVALID_EMAIL_ADDRESS");
  for (const std::string& body :
       {std::string(R"([{"message":"jane@example.com","errorCode":"jane@example.com"}])"),
        std::string(R"([{"message":"jane@example.com"}])"), std::string("jane@example.com"), std::string("[]"),
        std::string(R"([{"errorCode":")") + std::string(65, 'A') + "\"}]"}) {
    CAPTURE(body);
    f.transport->Enqueue(FakeHttpTransport::Respond(400, body));
    Outcome bad = f.adapter->Deliver(Consent(false));
    CHECK(bad.cls == OutcomeClass::kPermanent);
    CHECK(bad.code == "http_400");
  }
}

TEST_CASE("Salesforce: a query answer that is not a records array is retried", "[salesforce]") {
  for (const std::string& body :
       {std::string("not json"), std::string("{}"), std::string(R"({"records":{}})"),
        std::string(R"({"records":[{"Id":7}]})"), std::string(R"({"records":[{"Id":"003' OR 1=1"}]})"),
        std::string(R"({"records":[{"Id":"003000000000001AAA","IndividualId":"../x"}]})"),
        std::string(1 << 20, '['), std::string(R"({"records":[{"attributes":{}}]})")}) {
    CAPTURE(body.substr(0, 60));
    Fixture f;
    f.transport->Enqueue(FakeHttpTransport::Respond(200, body));
    Outcome o = f.adapter->Deliver(Erase());
    CHECK(o.cls == OutcomeClass::kRetry);
    CHECK(o.code == "malformed_response");
    CHECK(f.transport->requests().size() == 1);
  }
}

TEST_CASE("Salesforce: 5xx and transport failures are retried", "[salesforce]") {
  Fixture f;
  f.transport->Enqueue(Error(503, "SERVER_UNAVAILABLE"));
  f.transport->Enqueue(FakeHttpTransport::Fail(TransportError::kConnectionDropped));
  f.transport->Enqueue(Records({Rec(kC1)}));
  f.transport->Enqueue(FakeHttpTransport::Fail(TransportError::kTimeout));
  Outcome busy = f.adapter->Deliver(Consent(false));
  CHECK(busy.cls == OutcomeClass::kRetry);
  CHECK(busy.code == "SERVER_UNAVAILABLE");
  CHECK(f.adapter->Deliver(Consent(false)).code == "connection_dropped");
  Outcome t = f.adapter->Deliver(Erase());
  CHECK(t.cls == OutcomeClass::kRetry);
  CHECK(t.code == "timeout");
}

TEST_CASE("Salesforce: Lookup returns the first record's id, or empty when none", "[salesforce]") {
  Fixture f;
  Customer c;
  c.email = "jane@example.com";
  c.system_id = kC2;  // ignored: Lookup asks by email
  Outcome o;
  f.transport->Enqueue(Records({Rec(kC1)}));
  auto id = f.adapter->Lookup(c, &o);
  REQUIRE(id.has_value());
  CHECK(*id == kC1);
  CHECK(o.system_id == kC1);
  CHECK(f.transport->requests().at(0).url ==
        QueryUrl("SELECT Id FROM Contact WHERE Email = 'jane@example.com' LIMIT 200"));
  f.transport->Enqueue(Records({}));
  id = f.adapter->Lookup(c, &o);
  REQUIRE(id.has_value());
  CHECK(id->empty());
  f.transport->Enqueue(Error(403, "REQUEST_LIMIT_EXCEEDED"));
  CHECK_FALSE(f.adapter->Lookup(c, &o).has_value());
  CHECK(o.cls == OutcomeClass::kRetry);
}

TEST_CASE("Salesforce: Confirm has nothing to wait for", "[salesforce]") {
  Fixture f;
  CHECK(f.adapter->Confirm(Erase(), "x").cls == OutcomeClass::kDone);
  CHECK(f.transport->requests().empty());
}

}  // namespace
}  // namespace consentd::adapters
