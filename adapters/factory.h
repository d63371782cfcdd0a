// MakeAdapter: the one place that maps a system kind name to its adapter.
//
// Thread-safety: thread-safe.
#ifndef CONSENTD_ADAPTERS_FACTORY_H_
#define CONSENTD_ADAPTERS_FACTORY_H_

#include <memory>
#include <string_view>

#include "adapters/adapter.h"
#include "adapters/adapter_config.h"
#include "adapters/http_transport.h"
#include "src/base/clock.h"
#include "src/base/result.h"

namespace consentd::adapters {

// The adapter for a system of kind `kind` ("shopify", "woocommerce",
// "hubspot", "salesforce", "klaviyo", "mailchimp", "webhook").
// kInvalidArgument for an unknown kind, settings of another kind, or a
// missing required credential (the message names the credential, never its
// value). `transport` and `clock` must outlive the adapter.
Result<std::unique_ptr<Adapter>> MakeAdapter(std::string_view kind, const AdapterConfig& config,
                                             std::shared_ptr<HttpTransport> transport, const Clock& clock);

}  // namespace consentd::adapters

#endif  // CONSENTD_ADAPTERS_FACTORY_H_
