#include <catch2/catch.hpp>

#include "adapters/webhook_consentd.h"
#include "tests/adapters/webhook_test_util.h"

namespace consentd::adapters {
namespace {

using testing::Payload;
using testing::Post;

constexpr int64_t kNow = 1717243200000;  // 2024-06-01T12:00:00Z
const std::string kSecret = "signing-secret";

TEST_CASE("Signed webhooks verify t=<unix>,v1=<hex> over \"<t>.<body>\"", "[webhook][consentd]") {
  std::string body = Payload("consentd/consent_updated.json");
  std::string header = SignConsentdWebhook(kSecret, kNow / 1000, body);
  CHECK(header.rfind("t=1717243200,v1=", 0) == 0);
  CHECK(VerifyConsentdWebhook(Post(body, {{"X-Consentd-Signature", header}}), kSecret, kNow).ok());
  // A second v1 (sender rotating its secret) may come first.
  std::string rotated = "t=1717243200,v1=" + std::string(64, '0') + header.substr(header.find(",v1="));
  CHECK(VerifyConsentdWebhook(Post(body, {{"X-Consentd-Signature", rotated}}), kSecret, kNow).ok());
  ConsentdWebhookOptions o;
  o.signature_header = "X-Shop-Signature";
  CHECK(VerifyConsentdWebhook(Post(body, {{"X-Shop-Signature", header}}), kSecret, kNow, o).ok());
}

TEST_CASE("Signed webhooks reject forged, stale, re-timed, malformed and missing signatures", "[webhook][consentd]") {
  std::string body = Payload("consentd/consent_updated.json");
  std::string header = SignConsentdWebhook(kSecret, kNow / 1000, body);
  auto code = [&](const std::string& b, const std::string& h, int64_t now = kNow) {
    return VerifyConsentdWebhook(Post(b, {{"X-Consentd-Signature", h}}), kSecret, now).code;
  };
  CHECK(code(body, SignConsentdWebhook("other", kNow / 1000, body)) == "bad_signature");
  CHECK(code(body, header, kNow + 301000) == "timestamp_outside_window");
  std::string retimed = header;
  retimed.replace(2, 10, "1717243201");
  CHECK(code(body, retimed) == "bad_signature");
  CHECK(code(body, header.substr(0, header.size() - 2)) == "bad_signature");
  CHECK(code(body + "\n", header) == "bad_signature");
  CHECK(code(body, "v1=abcd") == "missing_timestamp");
  CHECK(code(body, "t=1717243200") == "malformed_signature");
  CHECK(code(body, "garbage") == "malformed_signature");
  CHECK(code(body, "t=abc,v1=00") == "malformed_timestamp");
  CHECK(VerifyConsentdWebhook(Post(body, {}), kSecret, kNow).code == "missing_signature");
}

TEST_CASE("Signed webhook bodies map single events and batches", "[webhook][consentd]") {
  std::string one = Payload("consentd/consent_updated.json");
  Result<WebhookBatch> b = MapConsentdWebhook(Post(one, {}));
  REQUIRE(b.ok());
  CHECK(b->events[0].kind == IngestKind::kConsent);
  CHECK(b->events[0].purpose == "email_marketing");
  CHECK(b->events[0].method == domain::ConsentMethod::kPreferenceCentre);
  std::string batch = Payload("consentd/batch.json");
  b = MapConsentdWebhook(Post(batch, {}));
  REQUIRE(b.ok());
  REQUIRE(b->events.size() == 3);
  CHECK(b->events[1].kind == IngestKind::kAccessRequest);
  CHECK(b->events[2].kind == IngestKind::kErasureRequest);
}

TEST_CASE("Signed webhook bodies with missing or wrong members are errors naming the member", "[webhook][consentd]") {
  struct C {
    const char* body;
    const char* member;
  } cases[] = {
      {"{}", "/id"},
      {"{\"id\":\"e\",\"type\":\"consent.updated\"}", "/occurred_at"},
      {"{\"id\":\"e\",\"type\":\"consent.updated\",\"occurred_at\":\"2024-06-01T12:00:00Z\"}", "/identifiers"},
      {"{\"id\":\"e\",\"type\":\"x\",\"occurred_at\":\"2024-06-01T12:00:00Z\",\"identifiers\":[{\"kind\":\"email\","
       "\"value\":\"a@b.example\"}]}",
       "/type"},
      {"{\"id\":\"e\",\"type\":\"consent.updated\",\"occurred_at\":\"2024-06-01T12:00:00Z\",\"identifiers\":[{\"kind\":"
       "\"email\",\"value\":\"a@b.example\"}],\"purpose\":\"p\",\"decision\":\"maybe\"}",
       "/decision"},
      {"{\"events\":[]}", "/events"},
  };
  for (const C& c : cases) {
    std::string body = c.body;
    Result<WebhookBatch> b = MapConsentdWebhook(Post(body, {}));
    REQUIRE(!b.ok());
    CHECK(b.status().message().find(c.member) != std::string::npos);
    CHECK(b.status().message().find("a@b.example") == std::string::npos);
  }
}

}  // namespace
}  // namespace consentd::adapters
