// Shopify (GraphQL Admin API; REST as an option): email and SMS marketing consent,
// customer lookup by email, erasure through customerRequestDataErasure (customerDelete fails for
// customers with orders). See ../shared/reference/downstream-apis.md §1.
//
// Thread-safety: thread-safe.
#ifndef CONSENTD_ADAPTERS_SHOPIFY_H_
#define CONSENTD_ADAPTERS_SHOPIFY_H_

#include <memory>

#include "adapters/adapter.h"
#include "adapters/adapter_config.h"
#include "adapters/http_transport.h"
#include "src/base/clock.h"

namespace consentd::adapters {

// REQUIRES: config.settings holds ShopifySettings; the required credentials are
// present (MakeAdapter checks both). `transport` and `clock` must outlive
// the adapter.
std::unique_ptr<Adapter> MakeShopifyAdapter(AdapterConfig config, std::shared_ptr<HttpTransport> transport,
                                        const Clock& clock);

}  // namespace consentd::adapters

#endif  // CONSENTD_ADAPTERS_SHOPIFY_H_
