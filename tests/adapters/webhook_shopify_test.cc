#include <catch2/catch.hpp>

#include "adapters/webhook_common.h"
#include "adapters/webhook_shopify.h"
#include "src/base/bytes.h"
#include "tests/adapters/webhook_test_util.h"

namespace consentd::adapters {
namespace {

using testing::Payload;
using testing::Post;

constexpr int64_t kNow = 1717430400000;  // 2024-06-03T16:00:00Z

ShopifyWebhookSecrets Secrets() { return {"hush", "", 0}; }

std::string Sign(const std::string& secret, const std::string& body) {
  return Base64Encode(AsBytes(HmacSha256(secret, body)));
}

TEST_CASE("Shopify reference vectors T1-T3 verify with the secret 'hush'", "[webhook][shopify]") {
  struct V {
    const char* file;
    const char* mac;
  } vectors[] = {{"shopify/customers_redact.json", "MpWzhAO7C8qeFDpZzIpB90On3gnIAlu2sTQPLxPqzUg="},
                 {"shopify/customers_data_request.json", "uBmmCH5+z0mD2pb2sa7520r6OIYnUH6Cs9Gs9PNrjag="},
                 {"shopify/shop_redact.json", "1ZkWm9gpyI+Zsjon2nUm8nnAH7b3L7SlOH1XnEEuq7o="}};
  for (const V& v : vectors) {
    std::string body = Payload(v.file);
    CHECK(Sign("hush", body) == v.mac);
    CHECK(VerifyShopify(Post(body, {{"X-Shopify-Hmac-Sha256", v.mac}}), Secrets(), kNow).ok());
  }
}

TEST_CASE("Shopify rejects forged, truncated, re-encoded, wrong-secret and missing signatures", "[webhook][shopify]") {
  const std::string body = Payload("shopify/customers_redact.json");
  const std::string good = "MpWzhAO7C8qeFDpZzIpB90On3gnIAlu2sTQPLxPqzUg=";
  auto verdict = [&](const std::string& b, const std::string& mac) {
    return VerifyShopify(Post(b, {{"X-Shopify-Hmac-Sha256", mac}}), Secrets(), kNow);
  };
  std::string forged = good;
  forged[5] = forged[5] == 'A' ? 'B' : 'A';
  CHECK(verdict(body, forged).code == "bad_signature");
  CHECK(verdict(body, good.substr(0, 20)).code == "bad_signature");                           // truncated
  CHECK(verdict(body, HexEncode(AsBytes(HmacSha256("hush", body)))).code == "bad_signature");  // hex instead of base64
  CHECK(verdict(body, good.substr(0, good.size() - 1)).code == "bad_signature");              // padding dropped
  CHECK(verdict(body, Sign("not-hush", body)).code == "bad_signature");
  CHECK(verdict(body, "").code == "bad_signature");
  // The body re-serialised (white space) or with one byte changed.
  std::string spaced = body;
  spaced.insert(1, " ");
  CHECK(verdict(spaced, good).code == "bad_signature");
  std::string changed = body;
  changed[changed.find("191167")] = '2';
  CHECK(verdict(changed, good).code == "bad_signature");
  CHECK(verdict(body + "\n", good).code == "bad_signature");
  CHECK(VerifyShopify(Post(body, {}), Secrets(), kNow).code == "missing_signature");
  CHECK(VerifyShopify(Post(body, {{"X-Shopify-Hmac-Sha256", good}}), {"", "", 0}, kNow).code ==
        "no_secret_configured");
}

TEST_CASE("Shopify accepts the previous secret only within its rotation window", "[webhook][shopify]") {
  const std::string body = Payload("shopify/shop_redact.json");
  ShopifyWebhookSecrets s{"new-secret", "hush", kNow + 1000};
  auto req = Post(body, {{"X-Shopify-Hmac-Sha256", Sign("hush", body)}});
  CHECK(VerifyShopify(req, s, kNow).ok());
  CHECK(VerifyShopify(req, s, kNow + 1000).code == "bad_signature");
  CHECK(VerifyShopify(Post(body, {{"X-Shopify-Hmac-Sha256", Sign("new-secret", body)}}), s, kNow + 999999).ok());
}

WebhookRequest Delivery(const std::string& body, const std::string& topic, const std::string& version = "2024-10") {
  return Post(body, {{"X-Shopify-Topic", topic},
                     {"X-Shopify-Webhook-Id", "b54557e4-bdd9-4b37-8a5f-bf7d70bcd043"},
                     {"X-Shopify-Shop-Domain", "example-store.myshopify.com"},
                     {"X-Shopify-API-Version", version},
                     {"X-Shopify-Triggered-At", "2024-06-03T16:00:00.000Z"}});
}

const ShopifyMapping kMapping{"example-store.myshopify.com"};

TEST_CASE("Shopify customers/create before 2025-01 maps email consent with its own time", "[webhook][shopify]") {
  std::string body = Payload("shopify/customers_create.json");
  Result<WebhookBatch> b = MapShopify(Delivery(body, "customers/create"), kMapping);
  REQUIRE(b.ok());
  REQUIRE(b->events.size() == 2);
  const IngestEvent& email = b->events[0];
  CHECK(email.kind == IngestKind::kConsent);
  CHECK(email.channel == "email");
  CHECK(email.decision == domain::Decision::kGranted);
  CHECK(email.method == domain::ConsentMethod::kDoubleOptIn);
  CHECK(email.occurred_at_ms == 1709820930000);  // 2024-03-07T09:15:30-05:00
  CHECK(email.dedupe_key == "wh:b54557e4-bdd9-4b37-8a5f-bf7d70bcd043#email");
  REQUIRE(email.identifiers.size() == 3);
  CHECK(email.identifiers[0].kind.Name() == "shopify_customer");
  CHECK(email.identifiers[0].value == "706405506930370084");
  CHECK(email.identifiers[0].qualifier == "example-store.myshopify.com");
  // SMS never decided (not_subscribed without a time): not a decision.
  CHECK(b->events[1].kind == IngestKind::kIgnored);
}

TEST_CASE("Shopify customers/update maps an unsubscribe and an SMS opt-in", "[webhook][shopify]") {
  std::string body = Payload("shopify/customers_update.json");
  Result<WebhookBatch> b = MapShopify(Delivery(body, "customers/update"), kMapping);
  REQUIRE(b.ok());
  REQUIRE(b->events.size() == 2);
  CHECK(b->events[0].decision == domain::Decision::kWithdrawn);
  CHECK(b->events[0].channel == "email");
  CHECK(b->events[1].decision == domain::Decision::kGranted);
  CHECK(b->events[1].channel == "sms");
  CHECK(b->events[1].kind == IngestKind::kConsent);
}

TEST_CASE("Shopify from API 2025-01 takes consent from the dedicated topics only", "[webhook][shopify]") {
  // Even if a 2025-01 customers/update carried consent, it is not read.
  std::string body = Payload("shopify/customers_update.json");
  Result<WebhookBatch> b = MapShopify(Delivery(body, "customers/update", "2025-01"), kMapping);
  REQUIRE(b.ok());
  REQUIRE(b->events.size() == 1);
  CHECK(b->events[0].kind == IngestKind::kLink);

  std::string email = Payload("shopify/customers_email_marketing_consent_update.json");
  b = MapShopify(Delivery(email, "customers_email_marketing_consent/update", "2025-01"), kMapping);
  REQUIRE(b.ok());
  REQUIRE(b->events.size() == 1);
  CHECK(b->events[0].kind == IngestKind::kConsent);
  CHECK(b->events[0].channel == "email");
  CHECK(b->events[0].decision == domain::Decision::kWithdrawn);
  CHECK(b->events[0].identifiers.size() == 2);

  std::string sms = Payload("shopify/customers_marketing_consent_update.json");
  b = MapShopify(Delivery(sms, "customers_marketing_consent/update", "2025-01"), kMapping);
  REQUIRE(b.ok());
  CHECK(b->events[0].channel == "sms");
  CHECK(b->events[0].decision == domain::Decision::kGranted);

  // The topic names are settings (UNCONFIRMED).
  ShopifyMapping renamed = kMapping;
  renamed.email_consent_topic = "customers/email_consent_changed";
  b = MapShopify(Delivery(email, "customers/email_consent_changed", "2025-01"), renamed);
  REQUIRE(b.ok());
  CHECK(b->events[0].kind == IngestKind::kConsent);
}

TEST_CASE("Shopify compliance topics map to erasure, access and shop redact requests", "[webhook][shopify]") {
  std::string redact = Payload("shopify/customers_redact.json");
  Result<WebhookBatch> b = MapShopify(Delivery(redact, "customers/redact"), kMapping);
  REQUIRE(b.ok());
  CHECK(b->events[0].kind == IngestKind::kErasureRequest);
  CHECK(b->events[0].identifiers.size() == 3);
  std::string access = Payload("shopify/customers_data_request.json");
  b = MapShopify(Delivery(access, "customers/data_request"), kMapping);
  REQUIRE(b.ok());
  CHECK(b->events[0].kind == IngestKind::kAccessRequest);
  CHECK(b->events[0].reference == "9999");
  std::string shop = Payload("shopify/shop_redact.json");
  b = MapShopify(Delivery(shop, "shop/redact"), kMapping);
  REQUIRE(b.ok());
  CHECK(b->events[0].kind == IngestKind::kShopRedact);
  CHECK(b->events[0].reference == "954889");
}

TEST_CASE("Shopify malformed deliveries are errors that quote no value", "[webhook][shopify]") {
  std::string body = Payload("shopify/customers_redact.json");
  CHECK(MapShopify(Post(body, {{"X-Shopify-Webhook-Id", "1"}}), kMapping).status().code() ==
        StatusCode::kInvalidArgument);
  CHECK(!MapShopify(Post(body, {{"X-Shopify-Topic", "customers/redact"}}), kMapping).ok());
  std::string junk = "{\"customer\":";
  CHECK(!MapShopify(Delivery(junk, "customers/redact"), kMapping).ok());
  std::string array = "[]";
  CHECK(!MapShopify(Delivery(array, "customers/update"), kMapping).ok());
  std::string no_customer = "{\"shop_id\":1}";
  Result<WebhookBatch> r = MapShopify(Delivery(no_customer, "customers/redact"), kMapping);
  REQUIRE(!r.ok());
  CHECK(r.status().message().find("customer") != std::string::npos);
  ShopifyMapping other{"another.myshopify.com"};
  CHECK(!MapShopify(Delivery(body, "customers/redact"), other).ok());
  std::string bad_time_body = body;
  WebhookRequest bad_time = Delivery(bad_time_body, "customers/redact");
  bad_time.headers.erase("X-Shopify-Triggered-At");
  bad_time.headers.emplace("X-Shopify-Triggered-At", "yesterday");
  CHECK(!MapShopify(bad_time, kMapping).ok());
}

TEST_CASE("Shopify unknown topics and customer deletions are ignored, not errors", "[webhook][shopify]") {
  std::string body = "{\"id\":1}";
  Result<WebhookBatch> b = MapShopify(Delivery(body, "orders/create"), kMapping);
  REQUIRE(b.ok());
  CHECK(b->events[0].kind == IngestKind::kIgnored);
  CHECK(b->events[0].note == "unmapped_topic");
  b = MapShopify(Delivery(body, "customers/delete"), kMapping);
  REQUIRE(b.ok());
  CHECK(b->events[0].note == "record_deleted");
}

}  // namespace
}  // namespace consentd::adapters
