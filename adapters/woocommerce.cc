// PLACEHOLDER until the WooCommerce adapter lands (issue 5): every call fails
// permanently with code "not_implemented", so nothing is reported as done.
#include "adapters/woocommerce.h"

#include "adapters/placeholder_adapter.h"

namespace consentd::adapters {

std::unique_ptr<Adapter> MakeWooCommerceAdapter(AdapterConfig, std::shared_ptr<HttpTransport>, const Clock&) {
  return std::make_unique<PlaceholderAdapter>();
}

}  // namespace consentd::adapters
