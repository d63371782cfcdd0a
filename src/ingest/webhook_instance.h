// WebhookInstance: what the webhook endpoint of one configured system
// instance needs: its kind, its secrets (read once from the credential files
// the policy names), the mapping settings of its kind, and which of its
// purposes a channel ("email", "sms") means. Built from the policy at start;
// docs/webhooks.md "Configuration".
//
// Thread-safety: value types; LoadWebhookInstances is thread-safe.
#ifndef CONSENTD_INGEST_WEBHOOK_INSTANCE_H_
#define CONSENTD_INGEST_WEBHOOK_INSTANCE_H_

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "adapters/webhook_consentd.h"
#include "adapters/webhook_hubspot.h"
#include "adapters/webhook_klaviyo.h"
#include "adapters/webhook_shopify.h"
#include "adapters/webhook_woocommerce.h"
#include "policies/policy_set.h"
#include "src/base/result.h"

namespace consentd::ingest {

// Settings of the ingest that are not per instance (consentd.json,
// docs/operations.md).
struct IngestOptions {
  adapters::KlaviyoWebhookOptions klaviyo;           // header names and encoding (UNCONFIRMED algorithm)
  int64_t signature_window_ms = 5 * 60 * 1000;       // HubSpot, Klaviyo, signed webhooks
  int64_t secret_rotation_window_ms = 60 * 60 * 1000;  // Shopify previous_webhook_secret, after the file's mtime
  bool hubspot_accept_v1_v2 = false;
};

struct WebhookInstance {
  std::string id;
  policies::SystemKind kind = policies::SystemKind::kWebhook;
  // The verification secret: shopify/woocommerce/klaviyo/mailchimp
  // webhook_secret, hubspot client_secret, webhook signing_secret. Empty when
  // not configured: every delivery is then rejected.
  std::string secret;
  adapters::ShopifyWebhookSecrets shopify;  // kShopify (current = secret)
  adapters::ShopifyMapping shopify_mapping;
  adapters::WooCommerceMapping woocommerce_mapping;
  adapters::HubSpotMapping hubspot_mapping;
  adapters::HubSpotVerifyOptions hubspot_verify;
  adapters::KlaviyoWebhookOptions klaviyo;
  adapters::ConsentdWebhookOptions consentd;
  std::string mailchimp_list_id;
  // Channel name -> the purposes this system receives on that channel.
  std::map<std::string, std::vector<std::string>> channel_purposes;
};

// The credential that holds a kind's verification secret ("" for kinds
// without webhooks: salesforce).
std::string_view SecretCredentialName(policies::SystemKind kind);

// One instance per policy system whose kind has webhooks. A credential file
// that cannot be read leaves the secret empty and is listed in *warnings
// (by system id and credential name; never the content).
std::map<std::string, WebhookInstance> LoadWebhookInstances(const policies::PolicySet& policy,
                                                            const std::string& key_dir, const IngestOptions& options,
                                                            std::vector<std::string>* warnings);

}  // namespace consentd::ingest

#endif  // CONSENTD_INGEST_WEBHOOK_INSTANCE_H_
