#include "tests/ingest/ingest_harness.h"

#include <sqlite3.h>
#include <sys/stat.h>
#include <sys/time.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <filesystem>
#include <fstream>

#include "adapters/webhook_common.h"
#include "adapters/webhook_consentd.h"
#include "adapters/webhook_hubspot.h"
#include "adapters/webhook_klaviyo.h"
#include "src/base/bytes.h"
#include "src/base/time_format.h"

namespace consentd::testing {
namespace {

int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

void WriteSecret(const std::string& key_dir, const std::string& system, const std::string& name,
                 const std::string& value) {
  std::filesystem::create_directories(key_dir + "/credentials/" + system);
  std::string path = key_dir + "/credentials/" + system + "/" + name;
  std::ofstream(path, std::ios::binary) << value << "\n";
  ::chmod(path.c_str(), 0600);
}

}  // namespace

std::unique_ptr<IngestHarness> IngestHarness::Start(nlohmann::json config_overrides) {
  std::unique_ptr<IngestHarness> ih = Prepare(std::move(config_overrides));
  REQUIRE(ih->h_->Start());
  return ih;
}

std::unique_ptr<IngestHarness> IngestHarness::Prepare(nlohmann::json config_overrides) {
  auto ih = std::unique_ptr<IngestHarness>(new IngestHarness());
  HarnessOptions o;
  o.config_overrides = std::move(config_overrides);
  // Outbox rows accumulate for the tests to read; nothing is sent to the
  // real systems' addresses in the test policy.
  if (!o.config_overrides.contains("propagation")) o.config_overrides["propagation"] = {{"enabled", false}};
  o.config_overrides["policies"] = {std::string(CONSENTD_SOURCE_DIR) + "/tests/testdata/webhooks/policy.json"};
  ih->h_ = ServiceHarness::Create(o);
  REQUIRE(ih->h_);
  const std::string& k = ih->h_->key_dir();
  WriteSecret(k, "shopify-main", "webhook_secret", kShopifySecret);
  WriteSecret(k, "shopify-main", "previous_webhook_secret", kShopifyPrevious);
  WriteSecret(k, "shopify-old", "webhook_secret", "old-shop-current");
  WriteSecret(k, "shopify-old", "previous_webhook_secret", kShopifyOldPrevious);
  // Rotated two hours ago: past Shopify's one-hour window.
  std::string old = k + "/credentials/shopify-old/previous_webhook_secret";
  struct timeval times[2];
  times[0].tv_sec = times[1].tv_sec = (NowMs() / 1000) - 2 * 3600;
  times[0].tv_usec = times[1].tv_usec = 0;
  REQUIRE(::utimes(old.c_str(), times) == 0);
  WriteSecret(k, "woo", "webhook_secret", kWooSecret);
  WriteSecret(k, "hubspot", "client_secret", kHubSpotSecret);
  WriteSecret(k, "klaviyo", "webhook_secret", kKlaviyoSecret);
  WriteSecret(k, "mailchimp", "webhook_secret", kMailchimpSecret);
  WriteSecret(k, "custom", "signing_secret", kCustomSecret);
  ih->officer_ = ih->h_->CreateToken("officer", "officer");
  ih->marketing_ = ih->h_->CreateToken("marketing", "marketing");
  return ih;
}

long long IngestHarness::Count(const std::string& table, const std::string& where) const {
  sqlite3* db = nullptr;
  long long n = -1;
  if (sqlite3_open_v2(h_->database_path().c_str(), &db, SQLITE_OPEN_READONLY, nullptr) == SQLITE_OK) {
    sqlite3_busy_timeout(db, 5000);
    std::string sql = "SELECT COUNT(*) FROM " + table + (where.empty() ? "" : " WHERE " + where);
    sqlite3_stmt* st = nullptr;
    if (sqlite3_prepare_v2(db, sql.c_str(), -1, &st, nullptr) == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW) {
      n = sqlite3_column_int64(st, 0);
    }
    sqlite3_finalize(st);
  }
  sqlite3_close(db);
  return n;
}

httplib::Result IngestHarness::Post(const std::string& path, const std::string& body, const httplib::Headers& headers,
                                    const std::string& content_type) const {
  return h_->Client()->Post(path.c_str(), headers, body, content_type.c_str());
}

httplib::Result IngestHarness::Shopify(const std::string& instance, const std::string& topic, const std::string& body,
                                       const std::string& webhook_id, const std::string& secret,
                                       const std::string& api_version) const {
  std::string domain = instance == "shopify-old" ? "old-store.myshopify.com" : "example-store.myshopify.com";
  httplib::Headers h = {{"X-Shopify-Topic", topic},
                        {"X-Shopify-Hmac-Sha256", Base64Encode(AsBytes(adapters::HmacSha256(secret, body)))},
                        {"X-Shopify-Shop-Domain", domain},
                        {"X-Shopify-API-Version", api_version},
                        {"X-Shopify-Webhook-Id", webhook_id},
                        {"X-Shopify-Triggered-At", FormatTimestampMillis(NowMs())}};
  return Post("/v1/webhooks/shopify/" + instance, body, h);
}

httplib::Result IngestHarness::WooCommerce(const std::string& topic, const std::string& body,
                                           const std::string& delivery_id, const std::string& secret) const {
  httplib::Headers h = {{"X-WC-Webhook-Topic", topic},
                        {"X-WC-Webhook-Source", "https://shop.example.com/"},
                        {"X-WC-Webhook-Signature", Base64Encode(AsBytes(adapters::HmacSha256(secret, body)))},
                        {"X-WC-Webhook-Delivery-ID", delivery_id},
                        {"X-WC-Webhook-ID", "17"}};
  return Post("/v1/webhooks/woocommerce/woo", body, h);
}

httplib::Result IngestHarness::HubSpot(const std::string& body, const std::string& secret) const {
  std::string ts = std::to_string(NowMs());
  std::string uri = "http://127.0.0.1:" + std::to_string(h_->port()) + "/v1/webhooks/hubspot/hubspot";
  httplib::Headers h = {{"X-HubSpot-Signature-v3", adapters::HubSpotSignatureV3(secret, "POST", uri, body, ts)},
                        {"X-HubSpot-Request-Timestamp", ts}};
  return Post("/v1/webhooks/hubspot/hubspot", body, h);
}

httplib::Result IngestHarness::Klaviyo(const std::string& body, const std::string& secret) const {
  std::string ts = FormatTimestampMillis(NowMs());
  httplib::Headers h = {{"Klaviyo-Signature", adapters::KlaviyoSignature(secret, body, ts)},
                        {"Klaviyo-Timestamp", ts},
                        {"Klaviyo-Webhook-Id", "01HXYZ"}};
  return Post("/v1/webhooks/klaviyo/klaviyo", body, h);
}

httplib::Result IngestHarness::Mailchimp(const std::string& body, const std::string& secret) const {
  return Post("/v1/webhooks/mailchimp/mailchimp?secret=" + secret, body, {}, "application/x-www-form-urlencoded");
}

httplib::Result IngestHarness::Custom(const std::string& body, const std::string& secret) const {
  httplib::Headers h = {{"X-Consentd-Signature", adapters::SignConsentdWebhook(secret, NowMs() / 1000, body)}};
  return Post("/v1/webhooks/webhook/custom", body, h);
}

std::string IngestHarness::State(const std::string& id_query, const std::string& purpose) const {
  httplib::Result r =
      h_->Client()->Get(("/v1/consents?" + id_query + "&purpose=" + purpose).c_str(), Bearer(marketing_));
  if (!r || r->status != 200) return "error";
  nlohmann::json j = ParseJson(r->body);
  return j.value("state", "error");
}

}  // namespace consentd::testing
