// WooCommerce (REST v3): lookup by email, delete with force=true, consent as configured
// customer meta (WooCommerce has no native consent field). See downstream-apis.md §2.
//
// Thread-safety: thread-safe.
#ifndef CONSENTD_ADAPTERS_WOOCOMMERCE_H_
#define CONSENTD_ADAPTERS_WOOCOMMERCE_H_

#include <memory>

#include "adapters/adapter.h"
#include "adapters/adapter_config.h"
#include "adapters/http_transport.h"
#include "src/base/clock.h"

namespace consentd::adapters {

// REQUIRES: config.settings holds WooCommerceSettings; the required credentials are
// present (MakeAdapter checks both). `transport` and `clock` must outlive
// the adapter.
std::unique_ptr<Adapter> MakeWooCommerceAdapter(AdapterConfig config, std::shared_ptr<HttpTransport> transport,
                                        const Clock& clock);

}  // namespace consentd::adapters

#endif  // CONSENTD_ADAPTERS_WOOCOMMERCE_H_
