#include "src/ingest/webhook_instance.h"

#include <sys/stat.h>

#include "policies/credential_ref.h"
#include "src/base/file_util.h"

namespace consentd::ingest {
namespace {

// The secret in a credential file, without trailing white space; empty and
// a warning when unreadable.
std::string ReadSecret(const policies::System& s, const std::string& name, const std::string& key_dir,
                       std::vector<std::string>* warnings, int64_t* mtime_ms = nullptr) {
  auto it = s.credentials.find(name);
  if (it == s.credentials.end()) return std::string();
  if (!policies::CredentialRefProblem(it->second).empty()) {
    warnings->push_back(s.id + ": credential " + name + ": unusable reference");
    return std::string();
  }
  std::string path = policies::ResolveCredentialPath(it->second, key_dir);
  Result<std::string> text = ReadFile(path, 64 << 10);
  if (!text.ok()) {
    warnings->push_back(s.id + ": credential " + name + ": cannot read its file");
    return std::string();
  }
  std::string v = std::move(*text);
  while (!v.empty() && (v.back() == '\n' || v.back() == '\r' || v.back() == ' ' || v.back() == '\t')) v.pop_back();
  if (mtime_ms != nullptr) {
    struct stat st;
    *mtime_ms = ::stat(path.c_str(), &st) == 0 ? static_cast<int64_t>(st.st_mtim.tv_sec) * 1000 +
                                                     st.st_mtim.tv_nsec / 1000000
                                               : 0;
  }
  return v;
}

}  // namespace

std::string_view SecretCredentialName(policies::SystemKind kind) {
  switch (kind) {
    case policies::SystemKind::kShopify:
    case policies::SystemKind::kWooCommerce:
    case policies::SystemKind::kKlaviyo:
    case policies::SystemKind::kMailchimp:
      return "webhook_secret";
    case policies::SystemKind::kHubSpot:
      return "client_secret";
    case policies::SystemKind::kWebhook:
      return "signing_secret";
    case policies::SystemKind::kSalesforce:
      return "";
  }
  return "";
}

std::map<std::string, WebhookInstance> LoadWebhookInstances(const policies::PolicySet& policy,
                                                            const std::string& key_dir, const IngestOptions& options,
                                                            std::vector<std::string>* warnings) {
  std::map<std::string, WebhookInstance> out;
  for (const auto& [id, s] : policy.systems) {
    std::string_view secret_name = SecretCredentialName(s.kind);
    if (secret_name.empty()) continue;
    WebhookInstance w;
    w.id = id;
    w.kind = s.kind;
    w.secret = ReadSecret(s, std::string(secret_name), key_dir, warnings);
    if (w.secret.empty() && !s.credentials.count(std::string(secret_name))) {
      warnings->push_back(id + ": no " + std::string(secret_name) + " credential: its webhooks are rejected");
    }
    for (const std::string& p : s.receives) {
      const policies::Purpose* purpose = policy.FindPurpose(p);
      if (purpose != nullptr) w.channel_purposes[std::string(policies::ChannelName(purpose->channel))].push_back(p);
    }
    switch (s.kind) {
      case policies::SystemKind::kShopify: {
        w.shopify.current = w.secret;
        int64_t mtime = 0;
        w.shopify.previous = ReadSecret(s, "previous_webhook_secret", key_dir, warnings, &mtime);
        w.shopify.previous_valid_until_ms = mtime + options.secret_rotation_window_ms;
        if (const auto* o = std::get_if<policies::ShopifyOptions>(&s.options)) w.shopify_mapping.shop_domain = o->shop_domain;
        break;
      }
      case policies::SystemKind::kWooCommerce: {
        const auto* o = std::get_if<policies::WooCommerceOptions>(&s.options);
        for (const std::string& p : s.receives) {
          w.woocommerce_mapping.meta_keys[p] = o != nullptr ? o->MetaKeyFor(p) : "_consentd_" + p;
        }
        break;
      }
      case policies::SystemKind::kHubSpot: {
        if (const auto* o = std::get_if<policies::HubSpotOptions>(&s.options)) {
          for (const auto& [purpose, sub] : o->subscription_ids) w.hubspot_mapping.subscription_purposes[sub] = purpose;
        }
        w.hubspot_verify.window_ms = options.signature_window_ms;
        w.hubspot_verify.accept_v1_v2 = options.hubspot_accept_v1_v2;
        break;
      }
      case policies::SystemKind::kKlaviyo:
        w.klaviyo = options.klaviyo;
        break;
      case policies::SystemKind::kMailchimp:
        if (const auto* o = std::get_if<policies::MailchimpOptions>(&s.options)) w.mailchimp_list_id = o->list_id;
        break;
      case policies::SystemKind::kWebhook:
        if (const auto* o = std::get_if<policies::WebhookOptions>(&s.options)) {
          w.consentd.signature_header = o->signature_header;
        }
        w.consentd.window_ms = options.signature_window_ms;
        break;
      case policies::SystemKind::kSalesforce:
        break;
    }
    out.emplace(id, std::move(w));
  }
  return out;
}

}  // namespace consentd::ingest
