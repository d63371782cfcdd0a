// Shopify webhooks, inbound (../shared/reference/downstream-apis.md §1.1-1.5,
// docs/webhooks.md "Shopify"): verification of X-Shopify-Hmac-Sha256 and the
// mapping of customer, consent and compliance topics to ingest events.
//
// Thread-safety: pure functions.
#ifndef CONSENTD_ADAPTERS_WEBHOOK_SHOPIFY_H_
#define CONSENTD_ADAPTERS_WEBHOOK_SHOPIFY_H_

#include <cstdint>
#include <string>

#include "adapters/webhook_event.h"
#include "src/base/result.h"

namespace consentd::adapters {

struct ShopifyWebhookSecrets {
  std::string current;   // credential webhook_secret (the app's client secret)
  std::string previous;  // credential previous_webhook_secret; empty when not rotating
  // The previous secret is accepted while now < this (Shopify signs with the
  // old secret for up to 1 hour after a rotation).
  int64_t previous_valid_until_ms = 0;
};

// base64(HMAC-SHA256(secret, raw body)) == X-Shopify-Hmac-Sha256, for the
// current secret or (within its window) the previous one. Both MACs are
// always computed and compared in constant time.
Verdict VerifyShopify(const WebhookRequest& request, const ShopifyWebhookSecrets& secrets, int64_t now_ms);

struct ShopifyMapping {
  std::string shop_domain;  // the instance's shop: qualifier of shopify_customer ids
  // From API version 2025-01 consent arrives on these topics (UNCONFIRMED
  // names and shapes; the mapper accepts customer_id|id, email_address|email,
  // phone|phone_number and the consent object).
  std::string email_consent_topic = "customers_email_marketing_consent/update";
  std::string sms_consent_topic = "customers_marketing_consent/update";
};

// Maps a verified delivery. kInvalidArgument (naming the header or member,
// never a value) for a malformed one: a missing topic or webhook id, a body
// that is not a JSON object, a shop domain other than the instance's, a
// compliance topic without customer identifiers.
//   customers/create, customers/update  API < 2025-01: email and SMS consent
//                                       (email_marketing_consent,
//                                       sms_marketing_consent, or legacy
//                                       accepts_marketing); from 2025-01: a
//                                       link of id, email and phone
//   <email_consent_topic>               email consent
//   <sms_consent_topic>                 SMS consent
//   customers/redact                    erasure request
//   customers/data_request              access request (reference: data_request.id)
//   shop/redact                         shop redact (reference: shop_id)
//   customers/delete, others            ignored
Result<WebhookBatch> MapShopify(const WebhookRequest& request, const ShopifyMapping& mapping);

}  // namespace consentd::adapters

#endif  // CONSENTD_ADAPTERS_WEBHOOK_SHOPIFY_H_
