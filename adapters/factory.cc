#include "adapters/factory.h"

#include <string>
#include <variant>
#include <vector>

#include "adapters/hubspot.h"
#include "adapters/klaviyo.h"
#include "adapters/mailchimp.h"
#include "adapters/salesforce.h"
#include "adapters/shopify.h"
#include "adapters/signed_webhook.h"
#include "adapters/woocommerce.h"

namespace consentd::adapters {

namespace {

using Maker = std::unique_ptr<Adapter> (*)(AdapterConfig, std::shared_ptr<HttpTransport>, const Clock&);

struct KindEntry {
  std::string_view kind;
  size_t settings_index;  // the AdapterSettings alternative of the kind
  std::vector<std::string_view> required_credentials;
  Maker make;
};

const std::vector<KindEntry>& Kinds() {
  static const std::vector<KindEntry> kinds = {
      {"shopify", 0, {"access_token"}, &MakeShopifyAdapter},
      {"woocommerce", 1, {"consumer_key", "consumer_secret"}, &MakeWooCommerceAdapter},
      {"hubspot", 2, {"access_token"}, &MakeHubSpotAdapter},
      {"salesforce", 3, {"access_token"}, &MakeSalesforceAdapter},
      {"klaviyo", 4, {"api_key"}, &MakeKlaviyoAdapter},
      {"mailchimp", 5, {"api_key"}, &MakeMailchimpAdapter},
      {"webhook", 6, {"signing_secret"}, &MakeSignedWebhookAdapter},
  };
  return kinds;
}

}  // namespace

Result<std::unique_ptr<Adapter>> MakeAdapter(std::string_view kind, const AdapterConfig& config,
                                             std::shared_ptr<HttpTransport> transport, const Clock& clock) {
  for (const KindEntry& entry : Kinds()) {
    if (entry.kind != kind) continue;
    if (config.settings.index() != entry.settings_index) {
      return Status::InvalidArgument("system " + config.system_id + ": settings are not those of kind " +
                                     std::string(kind));
    }
    for (std::string_view name : entry.required_credentials) {
      auto it = config.credentials.find(std::string(name));
      if (it == config.credentials.end() || it->second.empty()) {
        return Status::InvalidArgument("system " + config.system_id + ": credential " + std::string(name) +
                                       " is missing or empty");
      }
    }
    if (!transport) return Status::InvalidArgument("system " + config.system_id + ": no HTTP transport");
    return entry.make(config, std::move(transport), clock);
  }
  return Status::InvalidArgument("unknown system kind " + std::string(kind));
}

}  // namespace consentd::adapters
