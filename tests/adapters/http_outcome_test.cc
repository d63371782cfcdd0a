#include "adapters/http_outcome.h"

#include <catch2/catch.hpp>

#include "adapters/fake_http_transport.h"

namespace consentd::adapters {
namespace {

constexpr int64_t kNow = 1445412480000;  // Wed, 21 Oct 2015 07:28:00 GMT

Outcome Status(int status, std::vector<std::pair<std::string, std::string>> headers = {}) {
  return ClassifyHttp(FakeHttpTransport::Respond(status, "{}", std::move(headers)), kNow);
}

TEST_CASE("ClassifyHttp: every 2xx is done with code ok", "[http_outcome]") {
  for (int s : {200, 201, 202, 204, 299}) {
    Outcome o = Status(s);
    CAPTURE(s);
    CHECK(o.cls == OutcomeClass::kDone);
    CHECK(o.code == "ok");
    CHECK(o.http_status == s);
    CHECK_FALSE(o.retry_after_ms.has_value());
  }
}

TEST_CASE("ClassifyHttp: 401 asks to re-authenticate", "[http_outcome]") {
  Outcome o = Status(401);
  CHECK(o.cls == OutcomeClass::kReauthenticate);
  CHECK(o.code == "http_401");
  CHECK(o.http_status == 401);
}

TEST_CASE("ClassifyHttp: 408, 425, 429 and 5xx are retried later", "[http_outcome]") {
  for (int s : {408, 425, 429, 500, 502, 503, 504, 599}) {
    Outcome o = Status(s);
    CAPTURE(s);
    CHECK(o.cls == OutcomeClass::kRetry);
    CHECK(o.code == "http_" + std::to_string(s));
    CHECK(o.http_status == s);
    CHECK_FALSE(o.retry_after_ms.has_value());
  }
}

TEST_CASE("ClassifyHttp: a retryable answer carries its Retry-After", "[http_outcome]") {
  CHECK(Status(429, {{"Retry-After", "2.5"}}).retry_after_ms == 2500);
  CHECK(Status(503, {{"retry-after", "Wed, 21 Oct 2015 07:28:10 GMT"}}).retry_after_ms == 10000);
  CHECK_FALSE(Status(429, {{"Retry-After", "whenever"}}).retry_after_ms.has_value());
}

TEST_CASE("ClassifyHttp: Retry-After on a non-retryable answer is ignored", "[http_outcome]") {
  Outcome o = Status(400, {{"Retry-After", "5"}});
  CHECK(o.cls == OutcomeClass::kPermanent);
  CHECK_FALSE(o.retry_after_ms.has_value());
}

TEST_CASE("ClassifyHttp: other statuses fail permanently", "[http_outcome]") {
  for (int s : {100, 301, 304, 400, 402, 403, 404, 405, 409, 410, 422, 423, 451}) {
    Outcome o = Status(s);
    CAPTURE(s);
    CHECK(o.cls == OutcomeClass::kPermanent);
    CHECK(o.code == "http_" + std::to_string(s));
  }
}

TEST_CASE("ClassifyHttp: network failures are retried", "[http_outcome]") {
  struct Case {
    TransportError error;
    const char* code;
  };
  for (const Case& c : {Case{TransportError::kConnectionRefused, "connection_refused"},
                        Case{TransportError::kTimeout, "timeout"},
                        Case{TransportError::kConnectionDropped, "connection_dropped"},
                        Case{TransportError::kOther, "transport_error"}}) {
    Outcome o = ClassifyHttp(FakeHttpTransport::Fail(c.error), kNow);
    CAPTURE(c.code);
    CHECK(o.cls == OutcomeClass::kRetry);
    CHECK(o.code == c.code);
    CHECK(o.http_status == 0);
  }
}

TEST_CASE("ClassifyHttp: a bad URL or a TLS failure is a configuration error, not retried", "[http_outcome]") {
  Outcome bad_url = ClassifyHttp(FakeHttpTransport::Fail(TransportError::kBadUrl), kNow);
  CHECK(bad_url.cls == OutcomeClass::kPermanent);
  CHECK(bad_url.code == "bad_url");
  Outcome tls = ClassifyHttp(FakeHttpTransport::Fail(TransportError::kTls), kNow);
  CHECK(tls.cls == OutcomeClass::kPermanent);
  CHECK(tls.code == "tls_error");
}

TEST_CASE("ClassifyHttp never copies the response body into the outcome", "[http_outcome]") {
  Outcome o = ClassifyHttp(FakeHttpTransport::Respond(400, R"({"error":"jane@example.com is invalid"})"), kNow);
  CHECK(o.code.find('@') == std::string::npos);
  CHECK(o.reference.empty());
  CHECK(o.system_id.empty());
}

TEST_CASE("Outcome classes have stable names", "[http_outcome]") {
  CHECK(OutcomeClassName(OutcomeClass::kDone) == "done");
  CHECK(OutcomeClassName(OutcomeClass::kAlreadyDone) == "already_done");
  CHECK(OutcomeClassName(OutcomeClass::kAccepted) == "accepted");
  CHECK(OutcomeClassName(OutcomeClass::kRetry) == "retry");
  CHECK(OutcomeClassName(OutcomeClass::kReauthenticate) == "reauthenticate");
  CHECK(OutcomeClassName(OutcomeClass::kPermanent) == "permanent");
}

}  // namespace
}  // namespace consentd::adapters
