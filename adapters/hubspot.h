// HubSpot: subscription status (communication preferences API v4, or v3) and GDPR delete.
// See downstream-apis.md §3.
//
// Thread-safety: thread-safe.
#ifndef CONSENTD_ADAPTERS_HUBSPOT_H_
#define CONSENTD_ADAPTERS_HUBSPOT_H_

#include <memory>

#include "adapters/adapter.h"
#include "adapters/adapter_config.h"
#include "adapters/http_transport.h"
#include "src/base/clock.h"

namespace consentd::adapters {

// REQUIRES: config.settings holds HubSpotSettings; the required credentials are
// present (MakeAdapter checks both). `transport` and `clock` must outlive
// the adapter.
std::unique_ptr<Adapter> MakeHubSpotAdapter(AdapterConfig config, std::shared_ptr<HttpTransport> transport,
                                        const Clock& clock);

}  // namespace consentd::adapters

#endif  // CONSENTD_ADAPTERS_HUBSPOT_H_
