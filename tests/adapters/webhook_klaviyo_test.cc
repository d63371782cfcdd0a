#include <catch2/catch.hpp>

#include "adapters/webhook_klaviyo.h"
#include "tests/adapters/webhook_test_util.h"

namespace consentd::adapters {
namespace {

using testing::Payload;
using testing::Post;

constexpr int64_t kT8 = 1704067200000;  // 2024-01-01T00:00:00Z
const std::string kSecret = "klaviyo_secret_16ch";
const std::string kT8Mac = "ff829633eb12bcea1c76b7d2ba2c7d03ede764cd758ca6deabdb4f8204f70682";

TEST_CASE("Klaviyo vector T8 verifies (UNCONFIRMED algorithm)", "[webhook][klaviyo]") {
  std::string body = Payload("klaviyo/t8.json");
  CHECK(KlaviyoSignature(kSecret, body, "2024-01-01T00:00:00Z") == kT8Mac);
  WebhookRequest r = Post(body, {{"Klaviyo-Signature", kT8Mac}, {"Klaviyo-Timestamp", "2024-01-01T00:00:00Z"},
                                 {"Klaviyo-Webhook-Id", "01HXYZ"}});
  CHECK(VerifyKlaviyo(r, kSecret, kT8 + 1000).ok());
  CHECK(VerifyKlaviyo(r, kSecret, kT8 + 301000).code == "timestamp_outside_window");
}

TEST_CASE("Klaviyo rejects forged, truncated, wrong-secret, re-timed and missing signatures", "[webhook][klaviyo]") {
  std::string body = Payload("klaviyo/t8.json");
  auto code = [&](const std::string& b, const std::string& mac, const std::string& ts) {
    return VerifyKlaviyo(Post(b, {{"Klaviyo-Signature", mac}, {"Klaviyo-Timestamp", ts}}), kSecret, kT8).code;
  };
  CHECK(code(body, "0" + kT8Mac.substr(1), "2024-01-01T00:00:00Z") == "bad_signature");
  CHECK(code(body, kT8Mac.substr(0, 32), "2024-01-01T00:00:00Z") == "bad_signature");
  CHECK(code(body, KlaviyoSignature("wrong_secret_16ch", body, "2024-01-01T00:00:00Z"), "2024-01-01T00:00:00Z") ==
        "bad_signature");
  CHECK(code(body, kT8Mac, "2024-01-01T00:00:01Z") == "bad_signature");
  CHECK(code(body, kT8Mac, "") == "missing_timestamp");
  CHECK(code(body, kT8Mac, "soon") == "malformed_timestamp");
  CHECK(VerifyKlaviyo(Post(body, {}), kSecret, kT8).code == "missing_signature");
}

TEST_CASE("Klaviyo header names and encoding are configurable", "[webhook][klaviyo]") {
  std::string body = Payload("klaviyo/t8.json");
  KlaviyoWebhookOptions o;
  o.signature_header = "X-Klaviyo-Hmac";
  o.timestamp_header = "X-Klaviyo-Time";
  o.encoding = "base64";
  std::string mac = KlaviyoSignature(kSecret, body, "1704067200", "base64");
  WebhookRequest r = Post(body, {{"X-Klaviyo-Hmac", mac}, {"X-Klaviyo-Time", "1704067200"}});
  CHECK(VerifyKlaviyo(r, kSecret, kT8, o).ok());
  CHECK(VerifyKlaviyo(r, kSecret, kT8).code == "missing_signature");
}

TEST_CASE("Klaviyo topics map to email and SMS consent, links and ignored bounces", "[webhook][klaviyo]") {
  std::string body = Payload("klaviyo/events.json");
  Result<WebhookBatch> b = MapKlaviyo(Post(body, {}));
  REQUIRE(b.ok());
  REQUIRE(b->events.size() == 7);
  CHECK(b->events[0].kind == IngestKind::kConsent);
  CHECK(b->events[0].channel == "email");
  CHECK(b->events[0].decision == domain::Decision::kGranted);
  CHECK(b->events[0].dedupe_key == "ev:4Wc6sqbBd7R");
  CHECK(b->events[0].occurred_at_ms == 1717236000000);  // 2024-06-01T10:00:00Z
  CHECK(b->events[0].identifiers.size() == 2);
  CHECK(b->events[1].decision == domain::Decision::kWithdrawn);
  CHECK(b->events[2].method == domain::ConsentMethod::kSpamComplaint);
  CHECK(b->events[3].channel == "sms");
  CHECK(b->events[3].decision == domain::Decision::kGranted);
  CHECK(b->events[4].decision == domain::Decision::kWithdrawn);
  CHECK(b->events[5].note == "bounce_is_not_a_decision");
  CHECK(b->events[5].identifiers.empty());
  CHECK(b->events[6].kind == IngestKind::kLink);
}

TEST_CASE("Klaviyo malformed bodies are errors", "[webhook][klaviyo]") {
  for (std::string body : {"[]", "{}", "{\"data\":{}}", "{\"data\":[{\"payload\":{}}]}",
                           "{\"data\":[{\"topic\":\"event:klaviyo.unsubscribed\",\"payload\":{}}]}"}) {
    CHECK(MapKlaviyo(Post(body, {})).status().code() == StatusCode::kInvalidArgument);
  }
}

}  // namespace
}  // namespace consentd::adapters
