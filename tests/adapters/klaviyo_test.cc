// The Klaviyo adapter against FakeHttpTransport: the exact requests (headers,
// JSON:API bodies), and how each of Klaviyo's answers becomes an outcome.
#include <catch2/catch.hpp>

#include <nlohmann/json.hpp>

#include "adapters/fake_http_transport.h"
#include "adapters/klaviyo.h"

namespace consentd::adapters {
namespace {

using nlohmann::json;

AdapterConfig Config(KlaviyoSettings settings = {}) {
  AdapterConfig c;
  c.system_id = "klaviyo-main";
  c.api_version = "2024-10-15";
  c.credentials["api_key"] = "pk_live_abc";
  c.settings = settings;
  c.timeout_ms = 2500;
  return c;
}

Request Consent(bool granted, std::string channel = "email") {
  Request r;
  r.op = Operation::kSetConsent;
  r.purpose = channel + "_marketing";
  r.channel = std::move(channel);
  r.granted = granted;
  r.idempotency_key = "k1";
  r.customer.email = "jane@example.com";
  r.customer.phone = "+15005550006";
  return r;
}

Request Erase(std::string system_id = "") {
  Request r;
  r.op = Operation::kErase;
  r.idempotency_key = "k2";
  r.customer.email = "jane@example.com";
  r.customer.phone = "+15005550006";
  r.customer.system_id = std::move(system_id);
  return r;
}

HttpResponse JsonApiError(int status, const std::string& code,
                          std::vector<std::pair<std::string, std::string>> headers = {}) {
  json err = {{"id", "u"}, {"status", status}, {"code", code}, {"title", "t"},
              {"detail", "jane@example.com was refused"}};
  return FakeHttpTransport::Respond(status, json{{"errors", json::array({err})}}.dump(), std::move(headers));
}

HttpResponse SuppressionJob(const std::string& status) {
  return FakeHttpTransport::Respond(
      202, json{{"data",
                 {{"type", "profile-suppression-bulk-create-job"},
                  {"id", "JOB42"},
                  {"attributes", {{"status", status}, {"total_count", 1}}}}}}
               .dump());
}

struct Fixture {
  std::shared_ptr<FakeHttpTransport> http = std::make_shared<FakeHttpTransport>();
  FakeClock clock{1'700'000'000'000};
  std::unique_ptr<Adapter> adapter;
  explicit Fixture(AdapterConfig config = Config()) { adapter = MakeKlaviyoAdapter(std::move(config), http, clock); }
};

std::string Header(const HttpRequest& r, const std::string& name) {
  for (const auto& [k, v] : r.headers) {
    if (k == name) return v;
  }
  return "";
}

TEST_CASE("An email grant posts a subscription bulk-create job with the key, revision and JSON:API types") {
  KlaviyoSettings s;
  s.list_id = "Y6nRLr";
  Fixture f(Config(s));
  f.http->Enqueue(FakeHttpTransport::Respond(202, ""));
  Outcome out = f.adapter->Deliver(Consent(true));
  CHECK(out.cls == OutcomeClass::kDone);
  CHECK(out.code == "job_accepted");
  CHECK(out.http_status == 202);
  auto reqs = f.http->requests();
  REQUIRE(reqs.size() == 1);
  CHECK(reqs[0].method == "POST");
  CHECK(reqs[0].url == "https://a.klaviyo.com/api/profile-subscription-bulk-create-jobs");
  CHECK(reqs[0].timeout_ms == 2500);
  CHECK(Header(reqs[0], "Authorization") == "Klaviyo-API-Key pk_live_abc");
  CHECK(Header(reqs[0], "revision") == "2024-10-15");
  CHECK(Header(reqs[0], "Accept") == "application/vnd.api+json");
  CHECK(reqs[0].content_type == "application/vnd.api+json");
  json expected = R"({"data":{"type":"profile-subscription-bulk-create-job",
      "attributes":{"custom_source":"consentd","historical_import":false,
        "profiles":{"data":[{"type":"profile","attributes":{"email":"jane@example.com",
          "subscriptions":{"email":{"marketing":{"consent":"SUBSCRIBED"}}}}}]}},
      "relationships":{"list":{"data":{"type":"list","id":"Y6nRLr"}}}}})"_json;
  CHECK(json::parse(reqs[0].body) == expected);
}

TEST_CASE("An SMS withdrawal posts a bulk-delete job for the phone (and email), without a list when none is set") {
  Fixture f;
  f.http->Enqueue(FakeHttpTransport::Respond(202, ""));
  CHECK(f.adapter->Deliver(Consent(false, "sms")).cls == OutcomeClass::kDone);
  auto reqs = f.http->requests();
  REQUIRE(reqs.size() == 1);
  CHECK(reqs[0].url == "https://a.klaviyo.com/api/profile-subscription-bulk-delete-jobs");
  json expected = R"({"data":{"type":"profile-subscription-bulk-delete-job",
      "attributes":{"profiles":{"data":[{"type":"profile","attributes":{"phone_number":"+15005550006",
          "email":"jane@example.com",
          "subscriptions":{"sms":{"marketing":{"consent":"UNSUBSCRIBED"}}}}}]}}}})"_json;
  CHECK(json::parse(reqs[0].body) == expected);
}

TEST_CASE("With suppress_on_email_withdrawal an email withdrawal also suppresses, and Confirm polls that job") {
  KlaviyoSettings s;
  s.suppress_on_email_withdrawal = true;
  Fixture f(Config(s));
  f.http->Enqueue(FakeHttpTransport::Respond(202, ""));
  f.http->Enqueue(SuppressionJob("queued"));
  Outcome out = f.adapter->Deliver(Consent(false));
  CHECK(out.cls == OutcomeClass::kAccepted);
  CHECK(out.reference == "JOB42");
  auto reqs = f.http->requests();
  REQUIRE(reqs.size() == 2);
  CHECK(reqs[1].url == "https://a.klaviyo.com/api/profile-suppression-bulk-create-jobs");
  CHECK(json::parse(reqs[1].body) == R"({"data":{"type":"profile-suppression-bulk-create-job","attributes":
      {"profiles":{"data":[{"type":"profile","attributes":{"email":"jane@example.com"}}]}}}})"_json);

  f.http->Enqueue(SuppressionJob("processing"));
  Outcome running = f.adapter->Confirm(Consent(false), "JOB42");
  CHECK(running.cls == OutcomeClass::kAccepted);
  CHECK(f.http->requests()[2].method == "GET");
  CHECK(f.http->requests()[2].url == "https://a.klaviyo.com/api/profile-suppression-bulk-create-jobs/JOB42");
  f.http->Enqueue(SuppressionJob("complete"));
  Outcome done = f.adapter->Confirm(Consent(false), "JOB42");
  CHECK(done.cls == OutcomeClass::kDone);
  CHECK(done.reference == "JOB42");
  f.http->Enqueue(SuppressionJob("cancelled"));
  CHECK(f.adapter->Confirm(Consent(false), "JOB42").cls == OutcomeClass::kPermanent);
  f.http->Enqueue(SuppressionJob("exploded"));
  CHECK(f.adapter->Confirm(Consent(false), "JOB42").code == "malformed_response");
  f.http->Enqueue(JsonApiError(404, "not_found"));
  Outcome missing = f.adapter->Confirm(Consent(false), "JOB42");
  CHECK(missing.cls == OutcomeClass::kPermanent);
  CHECK(missing.code == "job_not_found");

  SECTION("a failed unsubscribe posts no suppression") {
    f.http->Enqueue(JsonApiError(503, "service_unavailable"));
    CHECK(f.adapter->Deliver(Consent(false)).cls == OutcomeClass::kRetry);
    CHECK(f.http->requests().size() == 8);
  }
  SECTION("an unsubscribe that returns a job id still gets its suppression, whose id is the reference") {
    f.http->Enqueue(FakeHttpTransport::Respond(
        202, R"({"data":{"type":"profile-subscription-bulk-delete-job","id":"UNSUB1"}})"));
    f.http->Enqueue(SuppressionJob("queued"));
    Outcome both = f.adapter->Deliver(Consent(false));
    CHECK(both.cls == OutcomeClass::kAccepted);
    CHECK(both.reference == "JOB42");
    CHECK(f.http->requests().size() == 9);
  }
  SECTION("a forged job reference is refused before any request") {
    size_t before = f.http->requests().size();
    CHECK(f.adapter->Confirm(Consent(false), "a\"b").code == "bad_reference");
    CHECK(f.adapter->Confirm(Consent(false), std::string(1000, 'x')).code == "bad_reference");
    CHECK(f.http->requests().size() == before);
  }
}

TEST_CASE("With poll_job_status off a job with an id counts as done at once") {
  KlaviyoSettings s;
  s.suppress_on_email_withdrawal = true;
  s.poll_job_status = false;
  Fixture f(Config(s));
  f.http->Enqueue(FakeHttpTransport::Respond(202, ""));
  f.http->Enqueue(SuppressionJob("queued"));
  Outcome out = f.adapter->Deliver(Consent(false));
  CHECK(out.cls == OutcomeClass::kDone);
  CHECK(out.reference == "JOB42");
  CHECK(f.adapter->Confirm(Consent(false), "JOB42").cls == OutcomeClass::kDone);
  CHECK(f.http->requests().size() == 2);
}

TEST_CASE("Erasure posts a data-privacy deletion job naming exactly one identifier") {
  Fixture f;
  f.http->Enqueue(FakeHttpTransport::Respond(202, ""));
  Outcome out = f.adapter->Deliver(Erase());
  CHECK(out.cls == OutcomeClass::kDone);
  CHECK(out.code == "job_accepted");
  f.http->Enqueue(FakeHttpTransport::Respond(202, ""));
  f.adapter->Deliver(Erase("01P000001"));
  Request phone_only = Erase();
  phone_only.customer.email.clear();
  f.http->Enqueue(FakeHttpTransport::Respond(202, ""));
  f.adapter->Deliver(phone_only);
  auto reqs = f.http->requests();
  REQUIRE(reqs.size() == 3);
  CHECK(reqs[0].url == "https://a.klaviyo.com/api/data-privacy-deletion-jobs");
  CHECK(json::parse(reqs[0].body) == R"({"data":{"type":"data-privacy-deletion-job","attributes":
      {"profile":{"data":{"type":"profile","attributes":{"email":"jane@example.com"}}}}}})"_json);
  CHECK(json::parse(reqs[1].body)["data"]["attributes"]["profile"]["data"] ==
        R"({"type":"profile","id":"01P000001"})"_json);
  CHECK(json::parse(reqs[2].body)["data"]["attributes"]["profile"]["data"]["attributes"] ==
        R"({"phone_number":"+15005550006"})"_json);

  SECTION("no profile (404) or a deletion already pending (409) is already done") {
    f.http->Enqueue(JsonApiError(404, "not_found"));
    Outcome gone = f.adapter->Deliver(Erase());
    CHECK(gone.cls == OutcomeClass::kAlreadyDone);
    CHECK(gone.code == "not_found");
    f.http->Enqueue(JsonApiError(409, "conflict"));
    CHECK(f.adapter->Deliver(Erase()).cls == OutcomeClass::kAlreadyDone);
  }
  SECTION("a deletion that returns a job id is accepted; it has no status endpoint, so Confirm is done") {
    f.http->Enqueue(FakeHttpTransport::Respond(
        202, R"({"data":{"type":"data-privacy-deletion-job","id":"DEL1","attributes":{}}})"));
    Outcome accepted = f.adapter->Deliver(Erase());
    CHECK(accepted.cls == OutcomeClass::kAccepted);
    CHECK(accepted.reference == "DEL1");
    size_t before = f.http->requests().size();
    Outcome confirmed = f.adapter->Confirm(Erase(), "DEL1");
    CHECK(confirmed.cls == OutcomeClass::kDone);
    CHECK(confirmed.code == "no_status_endpoint");
    CHECK(f.http->requests().size() == before);
  }
  SECTION("a customer without any identifier") {
    Request none;
    none.op = Operation::kErase;
    CHECK(f.adapter->Deliver(none).code == "no_identifier");
  }
}

TEST_CASE("Klaviyo's error answers map to outcome classes") {
  Fixture f;
  SECTION("429 throttled is retried with Retry-After in seconds, fractions or an HTTP date") {
    f.http->Enqueue(JsonApiError(429, "throttled", {{"Retry-After", "7"}}));
    Outcome out = f.adapter->Deliver(Consent(true));
    CHECK(out.cls == OutcomeClass::kRetry);
    CHECK(out.code == "throttled");
    CHECK(out.retry_after_ms == 7000);
    f.http->Enqueue(JsonApiError(429, "throttled", {{"Retry-After", "0.25"}}));
    CHECK(f.adapter->Deliver(Consent(true)).retry_after_ms == 250);
    f.http->Enqueue(JsonApiError(429, "throttled", {{"Retry-After", "Tue, 14 Nov 2023 22:13:21 GMT"}}));
    CHECK(f.adapter->Deliver(Consent(true)).retry_after_ms == 1000);
  }
  SECTION("401 cannot be fixed by a refresh: permanent") {
    f.http->Enqueue(JsonApiError(401, "not_authenticated"));
    Outcome out = f.adapter->Deliver(Consent(true));
    CHECK(out.cls == OutcomeClass::kPermanent);
    CHECK(out.code == "not_authenticated");
    CHECK_FALSE(f.adapter->Reauthenticate());
  }
  SECTION("other 4xx are permanent with the JSON:API code; odd codes are not copied") {
    f.http->Enqueue(JsonApiError(400, "invalid"));
    CHECK(f.adapter->Deliver(Consent(true)).code == "invalid");
    f.http->Enqueue(JsonApiError(403, "jane@example.com"));
    Outcome forged = f.adapter->Deliver(Consent(true));
    CHECK(forged.cls == OutcomeClass::kPermanent);
    CHECK(forged.code == "http_403");
    f.http->Enqueue(JsonApiError(400, std::string(65, 'a')));
    CHECK(f.adapter->Deliver(Consent(true)).code == "http_400");
    f.http->Enqueue(FakeHttpTransport::Respond(400, "not json"));
    CHECK(f.adapter->Deliver(Consent(true)).code == "http_400");
  }
  SECTION("5xx and transport errors are retried") {
    f.http->Enqueue(FakeHttpTransport::Respond(502, "<html>bad gateway</html>"));
    CHECK(f.adapter->Deliver(Erase()).cls == OutcomeClass::kRetry);
    for (TransportError e : {TransportError::kTimeout, TransportError::kConnectionRefused,
                             TransportError::kConnectionDropped}) {
      f.http->Enqueue(FakeHttpTransport::Fail(e));
      Outcome out = f.adapter->Deliver(Erase());
      CHECK(out.cls == OutcomeClass::kRetry);
      CHECK(out.code == TransportErrorCode(e));
    }
  }
  SECTION("a 2xx with an unreadable body is malformed and retried") {
    f.http->Enqueue(FakeHttpTransport::Respond(202, "{\"data\":"));
    Outcome out = f.adapter->Deliver(Consent(true));
    CHECK(out.cls == OutcomeClass::kRetry);
    CHECK(out.code == "malformed_response");
    f.http->Enqueue(FakeHttpTransport::Respond(202, R"({"data":{"type":"x","id":""}})"));
    CHECK(f.adapter->Deliver(Consent(true)).code == "malformed_response");
  }
}

TEST_CASE("Channels Klaviyo cannot represent and missing identifiers fail before any request") {
  Fixture f;
  Outcome ads = f.adapter->Deliver(Consent(true, "ads"));
  CHECK(ads.cls == OutcomeClass::kPermanent);
  CHECK(ads.code == "unsupported_purpose");
  Request no_phone = Consent(true, "sms");
  no_phone.customer.phone.clear();
  CHECK(f.adapter->Deliver(no_phone).code == "no_phone");
  Request no_email = Consent(true);
  no_email.customer.email.clear();
  CHECK(f.adapter->Deliver(no_email).code == "no_email");
  CHECK(f.http->requests().empty());
}

TEST_CASE("Lookup finds the profile id by email filter, or empty when there is none") {
  Fixture f;
  Outcome out;
  f.http->Enqueue(FakeHttpTransport::Respond(200, R"({"data":[{"type":"profile","id":"01P9"}],"links":{}})"));
  CHECK(f.adapter->Lookup(Consent(true).customer, &out) == std::string("01P9"));
  CHECK(f.http->requests()[0].url ==
        "https://a.klaviyo.com/api/profiles?filter=equals%28email%2C%22jane%40example.com%22%29"
        "&fields%5Bprofile%5D=id");
  f.http->Enqueue(FakeHttpTransport::Respond(200, R"({"data":[]})"));
  CHECK(f.adapter->Lookup(Consent(true).customer, &out) == std::string());
  f.http->Enqueue(FakeHttpTransport::Respond(200, R"({"data":{}})"));
  CHECK_FALSE(f.adapter->Lookup(Consent(true).customer, &out).has_value());
  CHECK(out.code == "malformed_response");
  Customer quote;
  quote.email = "a\"),equals(email,\"b@example.com";
  CHECK_FALSE(f.adapter->Lookup(quote, &out).has_value());
  CHECK(out.code == "bad_identifier");
  CHECK(f.http->requests().size() == 3);
}

TEST_CASE("The base URL and revision come from the configuration") {
  AdapterConfig c = Config();
  c.base_url = "http://127.0.0.1:9";
  c.api_version = "2025-01-15";
  Fixture f(c);
  f.http->Enqueue(FakeHttpTransport::Respond(202, ""));
  f.adapter->Deliver(Consent(true));
  CHECK(f.http->requests()[0].url == "http://127.0.0.1:9/api/profile-subscription-bulk-create-jobs");
  CHECK(Header(f.http->requests()[0], "revision") == "2025-01-15");
}

}  // namespace
}  // namespace consentd::adapters
