// IngestHarness: the real consentd with tests/testdata/webhooks/policy.json
// (one instance of every kind with webhooks), its webhook secrets written to
// the key directory, and helpers to send signed deliveries and to count
// what was recorded (ledger size, rows of the webhook tables).
#ifndef CONSENTD_TESTS_INGEST_INGEST_HARNESS_H_
#define CONSENTD_TESTS_INGEST_INGEST_HARNESS_H_

#include <memory>
#include <string>

#include "tests/api/service_harness.h"

namespace consentd::testing {

inline const char kShopifySecret[] = "new-shopify-secret";
inline const char kShopifyPrevious[] = "hush";  // within its rotation window
inline const char kShopifyOldPrevious[] = "expired-previous";  // shopify-old: rotated 2 hours ago
inline const char kWooSecret[] = "woo_secret";
inline const char kHubSpotSecret[] = "yyyyyyyy-yyyy-yyyy-yyyy-yyyyyyyyyyyy";
inline const char kKlaviyoSecret[] = "klaviyo_secret_16ch";
inline const char kMailchimpSecret[] = "mc-secret-123";
inline const char kCustomSecret[] = "signing-secret";

class IngestHarness {
 public:
  // Created and started; REQUIREs success. Tokens: officer(), marketing().
  static std::unique_ptr<IngestHarness> Start(nlohmann::json config_overrides = nlohmann::json::object());
  // The data directory, secrets and tokens, without starting consentd (for
  // tests that open the Runtime in process).
  static std::unique_ptr<IngestHarness> Prepare(nlohmann::json config_overrides = nlohmann::json::object());

  ServiceHarness& service() { return *h_; }
  const std::string& officer() const { return officer_; }
  const std::string& marketing() const { return marketing_; }

  // Rows in `table` of the data directory's database (read-only connection).
  long long Count(const std::string& table, const std::string& where = "") const;
  long long LedgerSize() const { return h_->LedgerSize(); }

  httplib::Result Post(const std::string& path, const std::string& body, const httplib::Headers& headers,
                       const std::string& content_type = "application/json") const;

  // Signed deliveries, signed as each system does, at the current time.
  httplib::Result Shopify(const std::string& instance, const std::string& topic, const std::string& body,
                          const std::string& webhook_id, const std::string& secret = kShopifySecret,
                          const std::string& api_version = "2024-10") const;
  httplib::Result WooCommerce(const std::string& topic, const std::string& body, const std::string& delivery_id,
                              const std::string& secret = kWooSecret) const;
  httplib::Result HubSpot(const std::string& body, const std::string& secret = kHubSpotSecret) const;
  httplib::Result Klaviyo(const std::string& body, const std::string& secret = kKlaviyoSecret) const;
  httplib::Result Mailchimp(const std::string& body, const std::string& secret = kMailchimpSecret) const;
  httplib::Result Custom(const std::string& body, const std::string& secret = kCustomSecret) const;

  // GET /v1/consents?<id_query>&purpose=...: the "state" member ("granted",
  // "withdrawn", "default"), or "error".
  std::string State(const std::string& id_query, const std::string& purpose) const;

 private:
  std::unique_ptr<ServiceHarness> h_;
  std::string officer_;
  std::string marketing_;
};

}  // namespace consentd::testing

#endif  // CONSENTD_TESTS_INGEST_INGEST_HARNESS_H_
