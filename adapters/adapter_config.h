// AdapterConfig: everything an adapter needs to reach one system instance:
// where it is, its credentials (the secret values, read from the credential
// files by src/propagation), its API version and its kind-specific settings.
// The settings mirror the `options` of policies/system.h (adapters/ and
// policies/ do not include each other; src/propagation copies one into the
// other). Items the reference marks UNCONFIRMED are settings.
//
// Thread-safety: value types.
#ifndef CONSENTD_ADAPTERS_ADAPTER_CONFIG_H_
#define CONSENTD_ADAPTERS_ADAPTER_CONFIG_H_

#include <cstdint>
#include <map>
#include <string>
#include <variant>

namespace consentd::adapters {

struct ShopifySettings {
  std::string shop_domain;      // "<shop>.myshopify.com"
  std::string api = "graphql";  // "graphql" or "rest"
  // How Confirm decides that a customerRequestDataErasure finished. UNCONFIRMED: Shopify documents
  // no status query for it. "customer_gone" (default): done once customer(id:) resolves to null;
  // "on_accept": the accepted request counts as done (completion then shows as customers/redact).
  std::string erasure_confirmation = "customer_gone";
  std::string opt_in_level = "SINGLE_OPT_IN";  // marketingOptInLevel sent with a grant: SINGLE_OPT_IN, CONFIRMED_OPT_IN, UNKNOWN
};

struct WooCommerceSettings {
  std::map<std::string, std::string> meta_keys;  // purpose -> customer meta key; default "_consentd_<purpose>"
  std::string auth = "basic";                    // "basic" or "query"
};

struct HubSpotSettings {
  std::map<std::string, std::string> subscription_ids;  // purpose -> subscription type id
  std::string preferences_api = "v4";                   // "v4" or "v3"
};

struct SalesforceFieldSetting {
  std::string name;                  // e.g. "HasOptedOutOfEmail"
  bool true_means_withdrawn = true;
};

struct SalesforceSettings {
  std::string object = "Contact";  // "Contact" or "Lead"
  std::map<std::string, SalesforceFieldSetting> fields;  // purpose -> field
  std::string status_granted = "OptIn";
  std::string status_withdrawn = "OptOut";
};

struct KlaviyoSettings {
  std::string list_id;
  std::string custom_source = "consentd";
  // Also suppress the profile (USER_SUPPRESSED) when email consent is withdrawn.
  bool suppress_on_email_withdrawal = false;
  // Confirm jobs that return an id by polling them; false: a 202 counts as done (UNCONFIRMED).
  bool poll_job_status = true;
};

struct MailchimpSettings {
  std::string list_id;
  std::string data_center;
  std::map<std::string, std::string> marketing_permission_ids;  // purpose -> id
  // On "Member In Compliance State" for a re-subscribe, send status "pending"
  // (Mailchimp's double opt-in email) instead of failing permanently.
  bool resubscribe_as_pending = false;
};

struct SignedWebhookSettings {
  std::string signature_header = "X-Consentd-Signature";
};

using AdapterSettings = std::variant<ShopifySettings, WooCommerceSettings, HubSpotSettings, SalesforceSettings,
                                     KlaviyoSettings, MailchimpSettings, SignedWebhookSettings>;

struct AdapterConfig {
  std::string system_id;    // the policy's instance id, e.g. "shopify-main" (for codes and metrics only)
  std::string base_url;     // no trailing '/', e.g. "https://api.hubapi.com" or "http://127.0.0.1:18080"
  std::string api_version;  // e.g. "2025-01", "wc/v3", "v3", "v60.0", "2024-10-15", "3.0"
  // Credential name -> secret value, names as in policies/system.cc SpecFor():
  // shopify access_token; woocommerce consumer_key, consumer_secret; hubspot
  // access_token; salesforce access_token [client_id client_secret
  // refresh_token]; klaviyo api_key; mailchimp api_key; webhook signing_secret.
  std::map<std::string, std::string> credentials;
  int32_t timeout_ms = 10000;  // per HTTP request
  AdapterSettings settings;
};

}  // namespace consentd::adapters

#endif  // CONSENTD_ADAPTERS_ADAPTER_CONFIG_H_
