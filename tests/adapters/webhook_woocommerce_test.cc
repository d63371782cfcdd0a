#include <catch2/catch.hpp>

#include "adapters/webhook_common.h"
#include "adapters/webhook_woocommerce.h"
#include "src/base/bytes.h"
#include "tests/adapters/webhook_test_util.h"

namespace consentd::adapters {
namespace {

using testing::Payload;
using testing::Post;

TEST_CASE("WooCommerce reference vector T4 verifies", "[webhook][woocommerce]") {
  std::string body = Payload("woocommerce/t4.json");
  const std::string mac = "UHnsQMm8S3VwMxkIdVeAfztbbf3fHpCoAYqdqbF6r0k=";
  CHECK(Base64Encode(AsBytes(HmacSha256("woo_secret", body))) == mac);
  CHECK(VerifyWooCommerce(Post(body, {{"X-WC-Webhook-Signature", mac}}), "woo_secret").ok());
}

TEST_CASE("WooCommerce rejects forged, truncated, re-encoded, wrong-secret and missing signatures",
          "[webhook][woocommerce]") {
  std::string body = Payload("woocommerce/t4.json");
  const std::string mac = "UHnsQMm8S3VwMxkIdVeAfztbbf3fHpCoAYqdqbF6r0k=";
  auto code = [&](const std::string& b, const std::string& m) {
    return VerifyWooCommerce(Post(b, {{"X-WC-Webhook-Signature", m}}), "woo_secret").code;
  };
  CHECK(code(body, "VHnsQMm8S3VwMxkIdVeAfztbbf3fHpCoAYqdqbF6r0k=") == "bad_signature");
  CHECK(code(body, mac.substr(0, 43)) == "bad_signature");
  CHECK(code(body, Base64Encode(AsBytes(HmacSha256("other", body)))) == "bad_signature");
  std::string reserialised = "{\"id\": 25, \"email\": \"john.doe@example.com\", \"first_name\": \"John\", "
                             "\"last_name\": \"Doe\", \"role\": \"customer\"}";
  CHECK(code(reserialised, mac) == "bad_signature");
  CHECK(VerifyWooCommerce(Post(body, {}), "woo_secret").code == "missing_signature");
}

TEST_CASE("WooCommerce creation ping without a signature is a ping, anything else unsigned is rejected",
          "[webhook][woocommerce]") {
  std::string ping = "webhook_id=17";
  CHECK(VerifyWooCommerce(Post(ping, {{"Content-Type", "application/x-www-form-urlencoded"}}), "s").result ==
        Verdict::Result::kPing);
  for (std::string b : {"webhook_id=", "webhook_id=17&x=1", "webhook_id=abc", "{\"webhook_id\":17}"}) {
    CHECK(VerifyWooCommerce(Post(b, {}), "s").code == "missing_signature");
  }
}

WebhookRequest Delivery(const std::string& body, const std::string& topic) {
  return Post(body, {{"X-WC-Webhook-Topic", topic},
                     {"X-WC-Webhook-Source", "https://shop.example.com/"},
                     {"X-WC-Webhook-Delivery-ID", "8f2c0a4a2b4e6f1d3c5b7a9e0d1f2a3b"},
                     {"X-WC-Webhook-ID", "17"}});
}

WooCommerceMapping Mapping() {
  WooCommerceMapping m;
  m.meta_keys = {{"email_marketing", "_consentd_email_marketing"}, {"sms_marketing", "_consentd_sms_marketing"}};
  return m;
}

TEST_CASE("WooCommerce customer.created and customer.updated map the consent meta with its time",
          "[webhook][woocommerce]") {
  std::string created = Payload("woocommerce/customer_created.json");
  Result<WebhookBatch> b = MapWooCommerce(Delivery(created, "customer.created"), Mapping());
  REQUIRE(b.ok());
  REQUIRE(b->events.size() == 1);
  const IngestEvent& e = b->events[0];
  CHECK(e.kind == IngestKind::kConsent);
  CHECK(e.purpose == "email_marketing");
  CHECK(e.decision == domain::Decision::kGranted);
  CHECK(e.occurred_at_ms == 1714550400000);  // 2024-05-01T08:00:00Z
  CHECK(e.dedupe_key == "dl:8f2c0a4a2b4e6f1d3c5b7a9e0d1f2a3b#email_marketing");
  REQUIRE(e.identifiers.size() == 3);
  CHECK(e.identifiers[0].kind.Name() == "woocommerce_customer");
  CHECK(e.identifiers[0].qualifier == "https://shop.example.com/");

  std::string updated = Payload("woocommerce/customer_updated.json");
  b = MapWooCommerce(Delivery(updated, "customer.updated"), Mapping());
  REQUIRE(b.ok());
  REQUIRE(b->events.size() == 1);
  CHECK(b->events[0].decision == domain::Decision::kWithdrawn);
  CHECK(b->events[0].occurred_at_ms == 1717424998000);  // the _at meta, not date_modified_gmt
}

TEST_CASE("WooCommerce customer without consent meta is a link, deletion is ignored", "[webhook][woocommerce]") {
  std::string t4 = Payload("woocommerce/t4.json");
  Result<WebhookBatch> b = MapWooCommerce(Delivery(t4, "customer.updated"), Mapping());
  REQUIRE(b.ok());
  CHECK(b->events[0].kind == IngestKind::kLink);
  std::string deleted = Payload("woocommerce/customer_deleted.json");
  b = MapWooCommerce(Delivery(deleted, "customer.deleted"), Mapping());
  REQUIRE(b.ok());
  CHECK(b->events[0].kind == IngestKind::kIgnored);
  CHECK(b->events[0].note == "record_deleted");
}

TEST_CASE("WooCommerce malformed deliveries are errors", "[webhook][woocommerce]") {
  std::string body = "not json";
  CHECK(!MapWooCommerce(Delivery(body, "customer.updated"), Mapping()).ok());
  std::string no_id = "{\"email\":\"a@b.example\"}";
  CHECK(!MapWooCommerce(Delivery(no_id, "customer.updated"), Mapping()).ok());
  std::string ok = Payload("woocommerce/t4.json");
  CHECK(!MapWooCommerce(Post(ok, {{"X-WC-Webhook-Topic", "customer.updated"}}), Mapping()).ok());
}

}  // namespace
}  // namespace consentd::adapters
