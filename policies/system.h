// System: one instance of a downstream system (a Shopify shop, a HubSpot
// portal, a Mailchimp audience...) as declared in the `systems` section of a
// policy document: where it is, how consentd authenticates to it (references
// to credential files, never the secrets), which purposes it is told about,
// which it may grant or only withdraw, its source-of-truth rank per purpose,
// its rate limit, and the options of its kind. See docs/policies.md.
//
// The adapters never see this type (adapters/ and policies/ do not include
// each other); src/service translates a System into an adapter's config.
// Thread-safety: value types; the free functions are thread-safe.
#ifndef CONSENTD_POLICIES_SYSTEM_H_
#define CONSENTD_POLICIES_SYSTEM_H_

#include <algorithm>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace consentd::policies {

enum class SystemKind {
  kShopify,      // "shopify"
  kWooCommerce,  // "woocommerce"
  kHubSpot,      // "hubspot"
  kSalesforce,   // "salesforce"
  kKlaviyo,      // "klaviyo"
  kMailchimp,    // "mailchimp"
  kWebhook,      // "webhook": a generic signed webhook receiver
};

std::string_view SystemKindName(SystemKind k);
std::optional<SystemKind> ParseSystemKind(std::string_view name);
std::string SystemKindNames();  // comma-separated, for error messages

// A token bucket: `requests_per_second` refill, at most `burst` at once.
struct RateLimit {
  double requests_per_second = 1;
  int32_t burst = 1;
  bool operator==(const RateLimit&) const = default;
};

// ---- Kind-specific options (the `options` object). Defaults are the
// documented ones; items the reference marks UNCONFIRMED are options. ----

struct ShopifyOptions {
  std::string shop_domain;    // required: "<shop>.myshopify.com"
  std::string api = "graphql";  // "graphql" (default) or "rest" (legacy)
  // How a customerRequestDataErasure counts as done (UNCONFIRMED: Shopify
  // documents no status query): "customer_gone" (default; the customer no
  // longer resolves) or "on_accept" (the accepted request counts as done).
  std::string erasure_confirmation = "customer_gone";
  // marketingOptInLevel sent with a grant: "SINGLE_OPT_IN" (default),
  // "CONFIRMED_OPT_IN" or "UNKNOWN".
  std::string opt_in_level = "SINGLE_OPT_IN";
};

struct WooCommerceOptions {
  // Customer meta_data key holding each purpose's decision; a received
  // purpose without an entry uses "_consentd_<purpose>".
  std::map<std::string, std::string> meta_keys;
  // "basic" (HTTP Basic, default) or "query" (consumer key and secret in the
  // query string, for servers that strip Authorization).
  std::string auth = "basic";

  std::string MetaKeyFor(const std::string& purpose) const;
};

struct HubSpotOptions {
  // Subscription type id per purpose; required for every received purpose
  // whose channel is email.
  std::map<std::string, std::string> subscription_ids;
  // Communication preferences API: "v4" (default; can re-subscribe) or "v3".
  std::string preferences_api = "v4";
};

struct SalesforceField {
  std::string name;                 // e.g. "HasOptedOutOfEmail" or "Marketing_OK__c"
  bool true_means_withdrawn = true;  // HasOptedOut* fields are inverted
};

struct SalesforceOptions {
  std::string object = "Contact";  // "Contact" (default) or "Lead"
  // Field per purpose; required for every received purpose.
  std::map<std::string, SalesforceField> fields;
  // ContactPointTypeConsent.PrivacyConsentStatus values (UNCONFIRMED in the
  // reference, so configurable).
  std::string status_granted = "OptIn";
  std::string status_withdrawn = "OptOut";
};

struct KlaviyoOptions {
  std::string list_id;  // optional: without a list, unsubscribes are global
  std::string custom_source = "consentd";
  // Also suppress the profile (USER_SUPPRESSED) when email consent is
  // withdrawn; default false.
  bool suppress_on_email_withdrawal = false;
  // Confirm jobs that return an id by polling them (default true); false: an
  // accepted (202) job counts as done (UNCONFIRMED).
  bool poll_job_status = true;
};

struct MailchimpOptions {
  std::string list_id;      // required: the audience id
  std::string data_center;  // "us6"; required unless base_url is given
  // GDPR marketing permission id per purpose (audiences with GDPR fields).
  std::map<std::string, std::string> marketing_permission_ids;
  // On "Member In Compliance State" for a re-subscribe, send status "pending"
  // (Mailchimp's double opt-in email) instead of failing; default false.
  bool resubscribe_as_pending = false;
};

struct WebhookOptions {
  std::string signature_header = "X-Consentd-Signature";
  int32_t timeout_ms = 5000;
};

using SystemOptions = std::variant<ShopifyOptions, WooCommerceOptions, HubSpotOptions,
                                   SalesforceOptions, KlaviyoOptions, MailchimpOptions,
                                   WebhookOptions>;

struct System {
  std::string id;  // instance id: [a-z0-9][a-z0-9_.-]{0,63}, e.g. "shopify-main"
  std::string description;
  SystemKind kind = SystemKind::kWebhook;
  std::string base_url;     // resolved: the kind's default when not given; no trailing '/'
  std::string api_version;  // resolved: the kind's default when not given
  // Credential name -> file path as written (see policies/credential_ref.h).
  std::map<std::string, std::string> credentials;
  std::vector<std::string> receives;      // purposes it is told about, document order
  std::vector<std::string> may_grant;     // subset of receives
  std::vector<std::string> may_withdraw;  // subset of receives
  std::map<std::string, int32_t> rank;    // purpose -> rank; absent means 0
  RateLimit rate_limit;
  int32_t concurrency = 1;
  SystemOptions options;
  std::string defined_in;  // the policy file that declared it

  bool Receives(std::string_view purpose) const { return Contains(receives, purpose); }
  bool MayGrant(std::string_view purpose) const { return Contains(may_grant, purpose); }
  bool MayWithdraw(std::string_view purpose) const { return Contains(may_withdraw, purpose); }
  // The source-of-truth rank of this system for `purpose` (0 when unset).
  int32_t RankFor(std::string_view purpose) const {
    auto it = rank.find(std::string(purpose));
    return it == rank.end() ? 0 : it->second;
  }

 private:
  static bool Contains(const std::vector<std::string>& v, std::string_view s) {
    return std::find(v.begin(), v.end(), s) != v.end();
  }
};

// Per-kind facts the loader uses to validate and fill defaults; also the
// table printed in docs/policies.md.
struct SystemKindSpec {
  SystemKind kind;
  std::string_view default_base_url;  // empty: required (or derived, see below)
  std::string_view default_api_version;
  RateLimit default_rate_limit;
  int32_t default_concurrency;
  int32_t max_concurrency;  // the system's own limit (Mailchimp: 10); 0 = none
  std::vector<std::string_view> required_credentials;
  std::vector<std::string_view> optional_credentials;
};

// REQUIRES: a valid kind. The returned reference lives forever.
const SystemKindSpec& SpecFor(SystemKind kind);

// Checks an api_version string against the kind's format (Shopify
// "2025-01", Klaviyo revision "2024-10-15", Salesforce "v60.0", ...).
// Returns an empty string when valid, else the expected format.
std::string ApiVersionProblem(SystemKind kind, std::string_view version);

}  // namespace consentd::policies

#endif  // CONSENTD_POLICIES_SYSTEM_H_
