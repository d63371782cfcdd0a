// The signed webhook adapter against FakeHttpTransport: the documented body
// and signature (the worked example of docs/adapters.md is read from the
// document itself), and how each receiver answer becomes an outcome.
#include <catch2/catch.hpp>

#include <nlohmann/json.hpp>

#include <fstream>
#include <sstream>

#include "adapters/fake_http_transport.h"
#include "adapters/signed_webhook.h"

namespace consentd::adapters {
namespace {

using nlohmann::json;

AdapterConfig Config(std::string header = "X-Consentd-Signature") {
  AdapterConfig c;
  c.system_id = "crm-legacy";
  c.base_url = "https://hooks.example.net/consentd";
  c.api_version = "v1";
  c.credentials["signing_secret"] = "whsec_test_secret";
  SignedWebhookSettings s;
  s.signature_header = std::move(header);
  c.settings = s;
  c.timeout_ms = 4000;
  return c;
}

// The worked example's request.
Request Example() {
  Request r;
  r.op = Operation::kSetConsent;
  r.purpose = "email_marketing";
  r.channel = "email";
  r.granted = true;
  r.occurred_at_ms = 1'700'000'000'000;
  r.idempotency_key = "evt_01HV2Q8J3K";
  r.customer.email = "jane@example.com";
  return r;
}

struct Fixture {
  std::shared_ptr<FakeHttpTransport> http = std::make_shared<FakeHttpTransport>();
  FakeClock clock{1'700'000'005'123};
  std::unique_ptr<Adapter> adapter;
  explicit Fixture(AdapterConfig config = Config()) {
    adapter = MakeSignedWebhookAdapter(std::move(config), http, clock);
  }
};

std::string Header(const HttpRequest& r, const std::string& name) {
  for (const auto& [k, v] : r.headers) {
    if (k == name) return v;
  }
  return "";
}

// The text between backquotes on the line of docs/adapters.md's "Signed
// webhook" section that starts with "- <label>: `".
std::string DocValue(const std::string& label) {
  std::ifstream in(std::string(CONSENTD_SOURCE_DIR) + "/docs/adapters.md");
  std::string line;
  bool in_section = false;
  const std::string prefix = "- " + label + ": `";
  while (std::getline(in, line)) {
    if (line.rfind("## ", 0) == 0) in_section = line == "## Signed webhook";
    if (in_section && line.rfind(prefix, 0) == 0 && line.back() == '`') {
      return line.substr(prefix.size(), line.size() - prefix.size() - 1);
    }
  }
  return "";
}

TEST_CASE("The signature is HMAC-SHA256 over timestamp, dot and body, as in the documented worked example") {
  const std::string secret = DocValue("secret");
  const std::string timestamp = DocValue("timestamp");
  const std::string body = DocValue("body");
  const std::string header = DocValue("header");
  REQUIRE(secret == "whsec_test_secret");
  REQUIRE(timestamp == "1700000005");
  REQUIRE_FALSE(body.empty());
  REQUIRE(header.rfind("X-Consentd-Signature: ", 0) == 0);
  CHECK(WebhookSignatureHeader(secret, std::stoll(timestamp), body) == header.substr(22));

  SECTION("and the adapter sends exactly that body and header for the example's request") {
    Fixture f;
    f.http->Enqueue(FakeHttpTransport::Respond(200, ""));
    Outcome out = f.adapter->Deliver(Example());
    CHECK(out.cls == OutcomeClass::kDone);
    auto reqs = f.http->requests();
    REQUIRE(reqs.size() == 1);
    CHECK(reqs[0].method == "POST");
    CHECK(reqs[0].url == "https://hooks.example.net/consentd");
    CHECK(reqs[0].content_type == "application/json");
    CHECK(reqs[0].timeout_ms == 4000);
    CHECK(reqs[0].body == body);
    CHECK(Header(reqs[0], "X-Consentd-Signature") == header.substr(22));
    CHECK(Header(reqs[0], "Idempotency-Key") == "evt_01HV2Q8J3K");
  }
}

TEST_CASE("A different secret, timestamp or body gives a different signature") {
  const std::string base = WebhookSignatureHeader("s", 1, "{}");
  CHECK(base.rfind("t=1,v1=", 0) == 0);
  CHECK(base.size() == 7 + 64);
  CHECK(WebhookSignatureHeader("t", 1, "{}") != base);
  CHECK(WebhookSignatureHeader("s", 2, "{}") != base);
  CHECK(WebhookSignatureHeader("s", 1, "{ }") != base);
}

TEST_CASE("An erase event carries the known identifiers and no purpose, in the configured header") {
  Fixture f(Config("X-Hook-Sig"));
  Request r;
  r.op = Operation::kErase;
  r.occurred_at_ms = 1'700'000'000'042;
  r.idempotency_key = "evt_2";
  r.customer.email = "jane@example.com";
  r.customer.phone = "+15005550006";
  r.customer.system_id = "C-17";
  f.http->Enqueue(FakeHttpTransport::Respond(204, ""));
  CHECK(f.adapter->Deliver(r).cls == OutcomeClass::kDone);
  HttpRequest sent = f.http->requests().at(0);
  CHECK(json::parse(sent.body) == json{{"id", "evt_2"},
                                       {"type", "subject.erase"},
                                       {"version", "v1"},
                                       {"system", "crm-legacy"},
                                       {"occurred_at", "2023-11-14T22:13:20.042Z"},
                                       {"customer", {{"email", "jane@example.com"},
                                                     {"phone", "+15005550006"},
                                                     {"id", "C-17"}}}});
  CHECK(Header(sent, "X-Hook-Sig") == WebhookSignatureHeader("whsec_test_secret", 1'700'000'005, sent.body));
  CHECK(Header(sent, "X-Consentd-Signature").empty());
}

TEST_CASE("A withdrawal says so, and the signature follows the clock") {
  Fixture f;
  Request r = Example();
  r.granted = false;
  f.http->Enqueue(FakeHttpTransport::Respond(200, ""));
  f.adapter->Deliver(r);
  f.clock.Advance(60'000);
  f.http->Enqueue(FakeHttpTransport::Respond(200, ""));
  f.adapter->Deliver(r);
  auto reqs = f.http->requests();
  CHECK(json::parse(reqs[0].body)["decision"] == "withdrawn");
  CHECK(reqs[0].body == reqs[1].body);
  CHECK(Header(reqs[0], "X-Consentd-Signature").rfind("t=1700000005,", 0) == 0);
  CHECK(Header(reqs[1], "X-Consentd-Signature").rfind("t=1700000065,", 0) == 0);
}

TEST_CASE("Receiver answers map to outcome classes") {
  Fixture f;
  SECTION("any 2xx is done") {
    for (int s : {200, 201, 202, 204}) {
      f.http->Enqueue(FakeHttpTransport::Respond(s, "whatever"));
      CHECK(f.adapter->Deliver(Example()).cls == OutcomeClass::kDone);
    }
  }
  SECTION("410 Gone is permanent") {
    f.http->Enqueue(FakeHttpTransport::Respond(410, ""));
    Outcome out = f.adapter->Deliver(Example());
    CHECK(out.cls == OutcomeClass::kPermanent);
    CHECK(out.code == "gone");
  }
  SECTION("401 (signature refused) is permanent") {
    f.http->Enqueue(FakeHttpTransport::Respond(401, ""));
    Outcome out = f.adapter->Deliver(Example());
    CHECK(out.cls == OutcomeClass::kPermanent);
    CHECK(out.code == "http_401");
    CHECK_FALSE(f.adapter->Reauthenticate());
  }
  SECTION("429 is retried with Retry-After in seconds, fractions or an HTTP date") {
    f.http->Enqueue(FakeHttpTransport::Respond(429, "", {{"Retry-After", "5"}}));
    Outcome out = f.adapter->Deliver(Example());
    CHECK(out.cls == OutcomeClass::kRetry);
    CHECK(out.retry_after_ms == 5000);
    f.http->Enqueue(FakeHttpTransport::Respond(429, "", {{"Retry-After", "2.5"}}));
    CHECK(f.adapter->Deliver(Example()).retry_after_ms == 2500);
    f.http->Enqueue(FakeHttpTransport::Respond(503, "", {{"Retry-After", "Tue, 14 Nov 2023 22:13:35 GMT"}}));
    CHECK(f.adapter->Deliver(Example()).retry_after_ms == 9877);  // the clock is 22:13:25.123
  }
  SECTION("other 4xx are permanent, 5xx and transport errors retried") {
    f.http->Enqueue(FakeHttpTransport::Respond(400, "jane@example.com is bad"));
    Outcome bad = f.adapter->Deliver(Example());
    CHECK(bad.cls == OutcomeClass::kPermanent);
    CHECK(bad.code == "http_400");
    f.http->Enqueue(FakeHttpTransport::Respond(500, ""));
    CHECK(f.adapter->Deliver(Example()).cls == OutcomeClass::kRetry);
    for (TransportError e : {TransportError::kTimeout, TransportError::kConnectionRefused,
                             TransportError::kConnectionDropped}) {
      f.http->Enqueue(FakeHttpTransport::Fail(e));
      CHECK(f.adapter->Deliver(Example()).cls == OutcomeClass::kRetry);
    }
    f.http->Enqueue(FakeHttpTransport::Fail(TransportError::kBadUrl));
    CHECK(f.adapter->Deliver(Example()).cls == OutcomeClass::kPermanent);
  }
}

TEST_CASE("A customer without identifiers or an out-of-range time is refused before any request") {
  Fixture f;
  Request none = Example();
  none.customer = Customer();
  CHECK(f.adapter->Deliver(none).code == "no_identifier");
  Request far = Example();
  far.occurred_at_ms = 300'000'000'000'000;
  CHECK(f.adapter->Deliver(far).code == "bad_occurred_at");
  CHECK(f.http->requests().empty());
}

TEST_CASE("Identifiers that are not valid UTF-8 still give a valid JSON body") {
  Fixture f;
  Request r = Example();
  r.customer.email = std::string("jane\xff\xfe@example.com");
  f.http->Enqueue(FakeHttpTransport::Respond(200, ""));
  CHECK(f.adapter->Deliver(r).cls == OutcomeClass::kDone);
  CHECK_NOTHROW(json::parse(f.http->requests().at(0).body));
}

TEST_CASE("A webhook is synchronous and has no lookup") {
  Fixture f;
  CHECK(f.adapter->Confirm(Example(), "").cls == OutcomeClass::kDone);
  Outcome out;
  CHECK(f.adapter->Lookup(Example().customer, &out) == std::string());
  CHECK(f.http->requests().empty());
}

}  // namespace
}  // namespace consentd::adapters
