#include "src/propagation/adapter_config_from_policy.h"

#include <variant>

#include "policies/credential_ref.h"
#include "src/base/file_util.h"

namespace consentd::propagation {
namespace {

struct ToSettings {
  adapters::AdapterSettings operator()(const policies::ShopifyOptions& o) const {
    return adapters::ShopifySettings{o.shop_domain, o.api, o.erasure_confirmation, o.opt_in_level};
  }
  adapters::AdapterSettings operator()(const policies::WooCommerceOptions& o) const {
    return adapters::WooCommerceSettings{o.meta_keys, o.auth};
  }
  adapters::AdapterSettings operator()(const policies::HubSpotOptions& o) const {
    return adapters::HubSpotSettings{o.subscription_ids, o.preferences_api};
  }
  adapters::AdapterSettings operator()(const policies::SalesforceOptions& o) const {
    adapters::SalesforceSettings s;
    s.object = o.object;
    for (const auto& [purpose, f] : o.fields) s.fields[purpose] = adapters::SalesforceFieldSetting{f.name, f.true_means_withdrawn};
    s.status_granted = o.status_granted;
    s.status_withdrawn = o.status_withdrawn;
    return s;
  }
  adapters::AdapterSettings operator()(const policies::KlaviyoOptions& o) const {
    adapters::KlaviyoSettings s;
    s.list_id = o.list_id;
    s.custom_source = o.custom_source;
    s.suppress_on_email_withdrawal = o.suppress_on_email_withdrawal;
    s.poll_job_status = o.poll_job_status;
    return s;
  }
  adapters::AdapterSettings operator()(const policies::MailchimpOptions& o) const {
    adapters::MailchimpSettings s;
    s.list_id = o.list_id;
    s.data_center = o.data_center;
    s.marketing_permission_ids = o.marketing_permission_ids;
    s.resubscribe_as_pending = o.resubscribe_as_pending;
    return s;
  }
  adapters::AdapterSettings operator()(const policies::WebhookOptions& o) const {
    return adapters::SignedWebhookSettings{o.signature_header};
  }
};

}  // namespace

adapters::AdapterSettings SettingsFromOptions(const policies::SystemOptions& options) {
  return std::visit(ToSettings{}, options);
}

Result<adapters::AdapterConfig> AdapterConfigFromPolicy(const policies::System& system, const std::string& key_dir) {
  adapters::AdapterConfig c;
  c.system_id = system.id;
  c.base_url = system.base_url;
  while (!c.base_url.empty() && c.base_url.back() == '/') c.base_url.pop_back();
  c.api_version = system.api_version;
  c.settings = SettingsFromOptions(system.options);
  if (const auto* w = std::get_if<policies::WebhookOptions>(&system.options)) c.timeout_ms = w->timeout_ms;
  for (const auto& [name, ref] : system.credentials) {
    std::string problem = policies::CredentialRefProblem(ref);
    if (!problem.empty()) {
      return Status::InvalidArgument("system " + system.id + ": credential " + name + ": " + problem);
    }
    const std::string path = policies::ResolveCredentialPath(ref, key_dir);
    Result<std::string> value = ReadFile(path, 64 << 10);
    if (!value.ok()) {
      return Status::NotFound("system " + system.id + ": credential " + name + ": cannot read " + path);
    }
    std::string v = std::move(*value);
    while (!v.empty() && (v.back() == '\n' || v.back() == '\r' || v.back() == ' ' || v.back() == '\t')) v.pop_back();
    c.credentials[name] = std::move(v);
  }
  return c;
}

}  // namespace consentd::propagation
