#include <catch2/catch.hpp>

#include "adapters/webhook_hubspot.h"
#include "tests/adapters/webhook_test_util.h"

namespace consentd::adapters {
namespace {

using testing::Payload;
using testing::Post;

const std::string kSecret = "yyyyyyyy-yyyy-yyyy-yyyy-yyyyyyyyyyyy";
const std::string kUri = "https://www.example.com/webhook_uri";
constexpr int64_t kTs = 1564113600000;

TEST_CASE("HubSpot documented vectors T5 (v1) and T6 (v2) and the v3 vector T6b", "[webhook][hubspot]") {
  std::string body = Payload("hubspot/contact_creation.json");
  CHECK(HubSpotSignatureV1(kSecret, body) == "232db2615f3d666fe21a8ec971ac7b5402d33b9a925784df3ca654d05f4817de");
  CHECK(HubSpotSignatureV2(kSecret, "GET", kUri, "") ==
        "eee2dddcc73c94d699f5e395f4b9d454a069a6855fbfa152e91e88823087200e");
  CHECK(HubSpotSignatureV3(kSecret, "POST", kUri, body, "1564113600000") ==
        "DxmVAjFNa2xfF3YgQjdZP6TNcok9k1oaH7UXombPtvw=");
  WebhookRequest r = Post(body,
                          {{"X-HubSpot-Signature-v3", "DxmVAjFNa2xfF3YgQjdZP6TNcok9k1oaH7UXombPtvw="},
                           {"X-HubSpot-Request-Timestamp", "1564113600000"}},
                          kUri);
  CHECK(VerifyHubSpot(r, kSecret, kTs + 60000).ok());
}

TEST_CASE("HubSpot v3 enforces the 5-minute window with the injected clock", "[webhook][hubspot]") {
  std::string body = Payload("hubspot/contact_creation.json");
  WebhookRequest r = Post(body,
                          {{"X-HubSpot-Signature-v3", "DxmVAjFNa2xfF3YgQjdZP6TNcok9k1oaH7UXombPtvw="},
                           {"X-HubSpot-Request-Timestamp", "1564113600000"}},
                          kUri);
  CHECK(VerifyHubSpot(r, kSecret, kTs + 300000).ok());
  CHECK(VerifyHubSpot(r, kSecret, kTs + 300001).code == "timestamp_outside_window");
  CHECK(VerifyHubSpot(r, kSecret, kTs - 300001).code == "timestamp_outside_window");
}

TEST_CASE("HubSpot v3 rejects forged, wrong-secret, other-URI, re-timed and missing signatures",
          "[webhook][hubspot]") {
  std::string body = Payload("hubspot/contact_creation.json");
  auto verdict = [&](const std::string& b, const std::string& sig, const std::string& ts, const std::string& uri) {
    return VerifyHubSpot(Post(b, {{"X-HubSpot-Signature-v3", sig}, {"X-HubSpot-Request-Timestamp", ts}}, uri),
                         kSecret, kTs);
  };
  const std::string good = "DxmVAjFNa2xfF3YgQjdZP6TNcok9k1oaH7UXombPtvw=";
  CHECK(verdict(body, good, "1564113600000", kUri).ok());
  CHECK(verdict(body, HubSpotSignatureV3("wrong", "POST", kUri, body, "1564113600000"), "1564113600000", kUri)
            .code == "bad_signature");
  CHECK(verdict(body, good, "1564113600001", kUri).code == "bad_signature");  // timestamp not the signed one
  CHECK(verdict(body, good, "1564113600000", "https://evil.example.com/webhook_uri").code == "bad_signature");
  CHECK(verdict(body + " ", good, "1564113600000", kUri).code == "bad_signature");
  CHECK(verdict(body, good.substr(0, 40), "1564113600000", kUri).code == "bad_signature");
  CHECK(verdict(body, good, "", kUri).code == "missing_timestamp");
  CHECK(verdict(body, good, "12ab", kUri).code == "malformed_timestamp");
  CHECK(VerifyHubSpot(Post(body, {}, kUri), kSecret, kTs).code == "missing_signature");
}

TEST_CASE("HubSpot v3 accepts the URI with HubSpot's decoded escapes", "[webhook][hubspot]") {
  std::string body = "[]";
  std::string called = "https://consentd.example.com/v1/webhooks/hubspot/crm?x=a%3Ab";
  std::string sig = HubSpotSignatureV3(kSecret, "POST", "https://consentd.example.com/v1/webhooks/hubspot/crm?x=a:b",
                                       body, "1564113600000");
  CHECK(HubSpotDecodeUri(called) == "https://consentd.example.com/v1/webhooks/hubspot/crm?x=a:b");
  CHECK(VerifyHubSpot(Post(body, {{"X-HubSpot-Signature-v3", sig}, {"X-HubSpot-Request-Timestamp", "1564113600000"}},
                           called),
                      kSecret, kTs)
            .ok());
}

TEST_CASE("HubSpot v1/v2 are refused unless enabled (they carry no timestamp)", "[webhook][hubspot]") {
  std::string body = Payload("hubspot/contact_creation.json");
  WebhookRequest v1 = Post(body, {{"X-HubSpot-Signature", HubSpotSignatureV1(kSecret, body)},
                                  {"X-HubSpot-Signature-Version", "v1"}});
  CHECK(VerifyHubSpot(v1, kSecret, kTs).code == "legacy_signature_not_accepted");
  HubSpotVerifyOptions legacy;
  legacy.accept_v1_v2 = true;
  CHECK(VerifyHubSpot(v1, kSecret, kTs, legacy).ok());
  WebhookRequest v2 = Post(body,
                           {{"X-HubSpot-Signature", HubSpotSignatureV2(kSecret, "POST", kUri, body)},
                            {"X-HubSpot-Signature-Version", "v2"}},
                           kUri);
  CHECK(VerifyHubSpot(v2, kSecret, kTs, legacy).ok());
  WebhookRequest forged = Post(body, {{"X-HubSpot-Signature", HubSpotSignatureV1("x", body)},
                                      {"X-HubSpot-Signature-Version", "v1"}});
  CHECK(VerifyHubSpot(forged, kSecret, kTs, legacy).code == "bad_signature");
}

TEST_CASE("HubSpot property changes map to consent, links and ignores per event id", "[webhook][hubspot]") {
  std::string body = Payload("hubspot/contact_property_change.json");
  HubSpotMapping m;
  m.subscription_purposes = {{"12345678", "email_marketing"}};
  Result<WebhookBatch> b = MapHubSpot(Post(body, {}), m);
  REQUIRE(b.ok());
  REQUIRE(b->events.size() == 4);
  CHECK(b->events[0].kind == IngestKind::kConsent);
  CHECK(b->events[0].channel == "email");
  CHECK(b->events[0].decision == domain::Decision::kWithdrawn);
  CHECK(b->events[0].occurred_at_ms == 1717430400000);
  CHECK(b->events[0].dedupe_key == "ev:3001");
  CHECK(b->events[0].identifiers[0].kind.Name() == "hubspot_contact");
  CHECK(b->events[1].kind == IngestKind::kConsent);
  CHECK(b->events[1].purpose == "email_marketing");
  CHECK(b->events[2].kind == IngestKind::kLink);
  CHECK(b->events[2].identifiers.size() == 2);
  CHECK(b->events[3].kind == IngestKind::kIgnored);
  // Without the subscription mapping the per-subscription property is ignored.
  b = MapHubSpot(Post(body, {}), HubSpotMapping{});
  REQUIRE(b.ok());
  CHECK(b->events[1].note == "unmapped_subscription");
}

TEST_CASE("HubSpot privacy deletion is an erasure request, deletion and creation are ignored", "[webhook][hubspot]") {
  std::string body = Payload("hubspot/contact_privacy_deletion.json");
  Result<WebhookBatch> b = MapHubSpot(Post(body, {}), {});
  REQUIRE(b.ok());
  CHECK(b->events[0].kind == IngestKind::kErasureRequest);
  CHECK(b->events[0].identifiers[0].value == "123");
  std::string del = Payload("hubspot/contact_deletion.json");
  b = MapHubSpot(Post(del, {}), {});
  REQUIRE(b.ok());
  CHECK(b->events[0].note == "record_deleted");
  std::string created = Payload("hubspot/contact_creation.json");
  b = MapHubSpot(Post(created, {}), {});
  REQUIRE(b.ok());
  CHECK(b->events[0].kind == IngestKind::kIgnored);
}

TEST_CASE("HubSpot malformed batches are errors", "[webhook][hubspot]") {
  for (std::string body : {"{}", "[1]", "[{\"subscriptionType\":\"contact.creation\"}]", "[", ""}) {
    CHECK(MapHubSpot(Post(body, {}), {}).status().code() == StatusCode::kInvalidArgument);
  }
}

}  // namespace
}  // namespace consentd::adapters
