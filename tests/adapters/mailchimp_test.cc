// The Mailchimp adapter against FakeHttpTransport: the exact requests, and
// how each of Mailchimp's answers becomes an outcome.
#include <catch2/catch.hpp>

#include <nlohmann/json.hpp>

#include "adapters/fake_http_transport.h"
#include "adapters/mailchimp.h"
#include "src/base/bytes.h"

namespace consentd::adapters {
namespace {

using nlohmann::json;

constexpr char kEmail[] = "urist.mcvankab@freddiesjokes.com";
constexpr char kHash[] = "62eeb292278cc15f5817cb78f7790b08";  // T7
constexpr char kMember[] = "https://us6.api.mailchimp.com/3.0/lists/L1/members/62eeb292278cc15f5817cb78f7790b08";

AdapterConfig Config(MailchimpSettings settings = {}) {
  AdapterConfig c;
  c.system_id = "mailchimp-main";
  c.api_version = "3.0";
  c.credentials["api_key"] = "0123456789abcdef-us6";
  if (settings.list_id.empty()) settings.list_id = "L1";
  c.settings = settings;
  c.timeout_ms = 1234;
  return c;
}

Request Consent(bool granted, std::string purpose = "newsletter", std::string channel = "email") {
  Request r;
  r.op = Operation::kSetConsent;
  r.purpose = std::move(purpose);
  r.channel = std::move(channel);
  r.granted = granted;
  r.idempotency_key = "k1";
  r.customer.email = kEmail;
  return r;
}

Request Erase() {
  Request r;
  r.op = Operation::kErase;
  r.idempotency_key = "k2";
  r.customer.email = kEmail;
  return r;
}

std::string MemberBody(const std::string& status) {
  return json{{"id", kHash}, {"email_address", kEmail}, {"status", status}}.dump();
}

HttpResponse Problem(int status, const std::string& title, std::vector<std::pair<std::string, std::string>> h = {}) {
  return FakeHttpTransport::Respond(
      status,
      json{{"type", "https://mailchimp.com/developer/marketing/docs/errors/"},
           {"title", title},
           {"status", status},
           {"detail", std::string(kEmail) + " is in a compliance state"},
           {"instance", "x"}}
          .dump(),
      std::move(h));
}

struct Fixture {
  std::shared_ptr<FakeHttpTransport> http = std::make_shared<FakeHttpTransport>();
  FakeClock clock{1'700'000'000'000};
  std::unique_ptr<Adapter> adapter;
  explicit Fixture(AdapterConfig config = Config()) {
    adapter = MakeMailchimpAdapter(std::move(config), http, clock);
  }
};

std::string Header(const HttpRequest& r, const std::string& name) {
  for (const auto& [k, v] : r.headers) {
    if (k == name) return v;
  }
  return "";
}

TEST_CASE("The subscriber hash is the MD5 of the lower-cased email (reference vector T7)") {
  CHECK(MailchimpSubscriberHash("urist.mcvankab@freddiesjokes.com") == kHash);
  CHECK(MailchimpSubscriberHash("Urist.McVankab@FreddiesJokes.com") == kHash);
  CHECK(MailchimpSubscriberHash("test@example.com") == "55502f40dc8b7c769880b10874abc9d0");
}

TEST_CASE("A grant upserts the member as subscribed with HTTP Basic auth and the data center of the key") {
  Fixture f;
  f.http->Enqueue(FakeHttpTransport::Respond(200, MemberBody("subscribed")));
  Outcome out = f.adapter->Deliver(Consent(true));
  CHECK(out.cls == OutcomeClass::kDone);
  CHECK(out.code == "ok");
  CHECK(out.http_status == 200);
  auto reqs = f.http->requests();
  REQUIRE(reqs.size() == 1);
  CHECK(reqs[0].method == "PUT");
  CHECK(reqs[0].url == kMember);
  CHECK(reqs[0].content_type == "application/json");
  CHECK(reqs[0].timeout_ms == 1234);
  CHECK(Header(reqs[0], "Authorization") == "Basic " + Base64Encode(AsBytes("consentd:0123456789abcdef-us6")));
  CHECK(json::parse(reqs[0].body) ==
        json{{"email_address", kEmail}, {"status_if_new", "subscribed"}, {"status", "subscribed"}});
}

TEST_CASE("The configured data center or base URL overrides the key's suffix") {
  MailchimpSettings s;
  s.data_center = "us19";
  Fixture dc(Config(s));
  dc.http->Enqueue(FakeHttpTransport::Respond(200, MemberBody("subscribed")));
  dc.adapter->Deliver(Consent(true));
  CHECK(dc.http->requests()[0].url.rfind("https://us19.api.mailchimp.com/3.0/lists/L1/members/", 0) == 0);

  AdapterConfig c = Config();
  c.base_url = "http://127.0.0.1:9";
  Fixture local(c);
  local.http->Enqueue(FakeHttpTransport::Respond(200, MemberBody("subscribed")));
  local.adapter->Deliver(Consent(true));
  CHECK(local.http->requests()[0].url == std::string("http://127.0.0.1:9/3.0/lists/L1/members/") + kHash);
}

TEST_CASE("A withdrawal patches the member to unsubscribed and never creates one") {
  Fixture f;
  f.http->Enqueue(FakeHttpTransport::Respond(200, MemberBody("unsubscribed")));
  Outcome out = f.adapter->Deliver(Consent(false));
  CHECK(out.cls == OutcomeClass::kDone);
  auto reqs = f.http->requests();
  REQUIRE(reqs.size() == 1);
  CHECK(reqs[0].method == "PATCH");
  CHECK(reqs[0].url == kMember);
  CHECK(json::parse(reqs[0].body) == json{{"status", "unsubscribed"}});

  SECTION("a member the audience does not hold has nothing to withdraw") {
    f.http->Enqueue(Problem(404, "Resource Not Found"));
    Outcome gone = f.adapter->Deliver(Consent(false));
    CHECK(gone.cls == OutcomeClass::kDone);
    CHECK(gone.code == "not_found");
  }
}

TEST_CASE("A purpose with a marketing permission id sets that permission, not the member's status") {
  MailchimpSettings s;
  s.marketing_permission_ids["email_marketing"] = "0fa1b2";
  Fixture f(Config(s));
  f.http->Enqueue(FakeHttpTransport::Respond(200, MemberBody("subscribed")));
  f.http->Enqueue(FakeHttpTransport::Respond(200, MemberBody("subscribed")));
  CHECK(f.adapter->Deliver(Consent(true, "email_marketing")).cls == OutcomeClass::kDone);
  CHECK(f.adapter->Deliver(Consent(false, "email_marketing")).cls == OutcomeClass::kDone);
  auto reqs = f.http->requests();
  REQUIRE(reqs.size() == 2);
  CHECK(reqs[0].method == "PUT");
  CHECK(json::parse(reqs[0].body) ==
        json{{"email_address", kEmail},
             {"status_if_new", "subscribed"},
             {"marketing_permissions", json::array({{{"marketing_permission_id", "0fa1b2"}, {"enabled", true}}})}});
  CHECK(reqs[1].method == "PATCH");
  CHECK(json::parse(reqs[1].body) ==
        json{{"marketing_permissions",
              json::array({{{"marketing_permission_id", "0fa1b2"}, {"enabled", false}}})}});
}

TEST_CASE("A re-subscribe refused as Member In Compliance State fails permanently without echoing the detail") {
  Fixture f;
  f.http->Enqueue(Problem(400, "Member In Compliance State"));
  Outcome out = f.adapter->Deliver(Consent(true));
  CHECK(out.cls == OutcomeClass::kPermanent);
  CHECK(out.code == "member_in_compliance_state");
  CHECK(out.http_status == 400);
  CHECK(f.http->requests().size() == 1);
}

TEST_CASE("With resubscribe_as_pending a compliance-state refusal becomes a pending double opt-in") {
  MailchimpSettings s;
  s.resubscribe_as_pending = true;
  Fixture f(Config(s));
  f.http->Enqueue(Problem(400, "Member In Compliance State"));
  f.http->Enqueue(FakeHttpTransport::Respond(200, MemberBody("pending")));
  Outcome out = f.adapter->Deliver(Consent(true));
  CHECK(out.cls == OutcomeClass::kDone);
  CHECK(out.code == "pending_double_opt_in");
  auto reqs = f.http->requests();
  REQUIRE(reqs.size() == 2);
  CHECK(json::parse(reqs[1].body) ==
        json{{"email_address", kEmail}, {"status_if_new", "pending"}, {"status", "pending"}});

  SECTION("a refused pending request keeps its own outcome") {
    f.http->Enqueue(Problem(400, "Member In Compliance State"));
    f.http->Enqueue(Problem(400, "Forgotten Email Not Subscribed"));
    Outcome refused = f.adapter->Deliver(Consent(true));
    CHECK(refused.cls == OutcomeClass::kPermanent);
    CHECK(refused.code == "forgotten_email_not_subscribed");
  }
}

TEST_CASE("Erasure deletes the member permanently, a member already gone counts as done") {
  Fixture f;
  f.http->Enqueue(FakeHttpTransport::Respond(204, ""));
  Outcome out = f.adapter->Deliver(Erase());
  CHECK(out.cls == OutcomeClass::kDone);
  auto reqs = f.http->requests();
  REQUIRE(reqs.size() == 1);
  CHECK(reqs[0].method == "POST");
  CHECK(reqs[0].url == std::string(kMember) + "/actions/delete-permanent");
  CHECK(reqs[0].body.empty());

  f.http->Enqueue(Problem(404, "Resource Not Found"));
  Outcome again = f.adapter->Deliver(Erase());
  CHECK(again.cls == OutcomeClass::kAlreadyDone);
  CHECK(again.code == "not_found");
}

TEST_CASE("Mailchimp's error answers map to outcome classes") {
  Fixture f;
  SECTION("429 is retried, honouring Retry-After in seconds, fractions and HTTP dates") {
    f.http->Enqueue(Problem(429, "Too Many Requests", {{"Retry-After", "3"}}));
    Outcome a = f.adapter->Deliver(Consent(true));
    CHECK(a.cls == OutcomeClass::kRetry);
    CHECK(a.code == "too_many_requests");
    CHECK(a.retry_after_ms == 3000);
    f.http->Enqueue(Problem(429, "Too Many Requests", {{"Retry-After", "1.5"}}));
    CHECK(f.adapter->Deliver(Consent(true)).retry_after_ms == 1500);
    f.http->Enqueue(Problem(429, "Too Many Requests", {{"Retry-After", "Tue, 14 Nov 2023 22:13:30 GMT"}}));
    CHECK(f.adapter->Deliver(Consent(true)).retry_after_ms == 10000);  // the clock is 22:13:20
    f.http->Enqueue(Problem(429, "Too Many Requests"));
    Outcome none = f.adapter->Deliver(Consent(true));
    CHECK(none.cls == OutcomeClass::kRetry);
    CHECK_FALSE(none.retry_after_ms.has_value());
  }
  SECTION("an invalid API key cannot be refreshed: permanent") {
    f.http->Enqueue(Problem(401, "API Key Invalid"));
    Outcome out = f.adapter->Deliver(Consent(true));
    CHECK(out.cls == OutcomeClass::kPermanent);
    CHECK(out.code == "api_key_invalid");
    CHECK_FALSE(f.adapter->Reauthenticate());
  }
  SECTION("5xx is retried") {
    f.http->Enqueue(Problem(503, "Compliance Related"));
    CHECK(f.adapter->Deliver(Erase()).cls == OutcomeClass::kRetry);
    f.http->Enqueue(FakeHttpTransport::Respond(500, "<html>oops</html>"));
    Outcome out = f.adapter->Deliver(Erase());
    CHECK(out.cls == OutcomeClass::kRetry);
    CHECK(out.code == "http_500");
  }
  SECTION("transport errors are retried") {
    for (TransportError e : {TransportError::kTimeout, TransportError::kConnectionRefused,
                             TransportError::kConnectionDropped}) {
      f.http->Enqueue(FakeHttpTransport::Fail(e));
      Outcome out = f.adapter->Deliver(Consent(true));
      CHECK(out.cls == OutcomeClass::kRetry);
      CHECK(out.code == TransportErrorCode(e));
      CHECK(out.http_status == 0);
    }
  }
  SECTION("a 200 that is not a member is malformed and retried") {
    f.http->Enqueue(FakeHttpTransport::Respond(200, "<html>proxy</html>"));
    Outcome out = f.adapter->Deliver(Consent(true));
    CHECK(out.cls == OutcomeClass::kRetry);
    CHECK(out.code == "malformed_response");
    f.http->Enqueue(FakeHttpTransport::Respond(200, R"({"id":7,"status":"subscribed"})"));
    CHECK(f.adapter->Deliver(Consent(true)).code == "malformed_response");
  }
  SECTION("an unknown, forged or oversized title is never copied into the code") {
    f.http->Enqueue(Problem(400, std::string(kEmail)));
    Outcome forged = f.adapter->Deliver(Consent(true));
    CHECK(forged.cls == OutcomeClass::kPermanent);
    CHECK(forged.code == "http_400");
    f.http->Enqueue(Problem(400, std::string(100000, 'A')));
    CHECK(f.adapter->Deliver(Consent(true)).code == "http_400");
    f.http->Enqueue(FakeHttpTransport::Respond(400, "{\"title\":"));
    CHECK(f.adapter->Deliver(Consent(true)).code == "http_400");
  }
}

TEST_CASE("Purposes Mailchimp cannot represent and customers without an email fail before any request") {
  Fixture f;
  Outcome sms = f.adapter->Deliver(Consent(true, "sms_marketing", "sms"));
  CHECK(sms.cls == OutcomeClass::kPermanent);
  CHECK(sms.code == "unsupported_purpose");
  Request no_email = Consent(true);
  no_email.customer.email.clear();
  no_email.customer.phone = "+15005550006";
  CHECK(f.adapter->Deliver(no_email).code == "no_email");
  CHECK(f.http->requests().empty());
}

TEST_CASE("Lookup returns the member's hash, or empty when the audience does not hold the email") {
  Fixture f;
  Outcome out;
  f.http->Enqueue(FakeHttpTransport::Respond(200, MemberBody("subscribed")));
  CHECK(f.adapter->Lookup(Consent(true).customer, &out) == std::string(kHash));
  CHECK(out.cls == OutcomeClass::kDone);
  CHECK(f.http->requests()[0].method == "GET");
  CHECK(f.http->requests()[0].url == std::string(kMember) + "?fields=id,status");
  f.http->Enqueue(Problem(404, "Resource Not Found"));
  CHECK(f.adapter->Lookup(Consent(true).customer, &out) == std::string());
  f.http->Enqueue(FakeHttpTransport::Fail(TransportError::kTimeout));
  CHECK_FALSE(f.adapter->Lookup(Consent(true).customer, &out).has_value());
  CHECK(out.cls == OutcomeClass::kRetry);
}

TEST_CASE("Mailchimp operations are synchronous: Confirm is done") {
  Fixture f;
  CHECK(f.adapter->Confirm(Erase(), "").cls == OutcomeClass::kDone);
  CHECK(f.http->requests().empty());
}

TEST_CASE("Without an email, a withdrawal or an erase names the member by a known hash, a grant cannot") {
  Fixture f;
  Request erase = Erase();
  erase.customer.email.clear();
  erase.customer.system_id = kHash;
  f.http->Enqueue(FakeHttpTransport::Respond(204, ""));
  CHECK(f.adapter->Deliver(erase).cls == OutcomeClass::kDone);
  Request withdraw = Consent(false);
  withdraw.customer.email.clear();
  withdraw.customer.system_id = kHash;
  f.http->Enqueue(FakeHttpTransport::Respond(200, MemberBody("unsubscribed")));
  CHECK(f.adapter->Deliver(withdraw).cls == OutcomeClass::kDone);
  auto reqs = f.http->requests();
  REQUIRE(reqs.size() == 2);
  CHECK(reqs[0].url == std::string(kMember) + "/actions/delete-permanent");
  CHECK(reqs[1].url == kMember);

  Request grant = Consent(true);
  grant.customer.email.clear();
  grant.customer.system_id = kHash;
  CHECK(f.adapter->Deliver(grant).code == "no_email");
  Request forged = Erase();
  forged.customer.email.clear();
  forged.customer.system_id = "../../lists/L2/members/x";
  CHECK(f.adapter->Deliver(forged).code == "no_email");
  forged.customer.system_id = std::string(32, 'G');
  CHECK(f.adapter->Deliver(forged).code == "no_email");
  CHECK(f.http->requests().size() == 2);
}

}  // namespace
}  // namespace consentd::adapters
