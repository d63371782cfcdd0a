// Klaviyo: subscribe / unsubscribe / suppression bulk jobs and data-privacy deletion jobs
// (revision header, JSON:API bodies). See downstream-apis.md §5.
//
// Thread-safety: thread-safe.
#ifndef CONSENTD_ADAPTERS_KLAVIYO_H_
#define CONSENTD_ADAPTERS_KLAVIYO_H_

#include <memory>

#include "adapters/adapter.h"
#include "adapters/adapter_config.h"
#include "adapters/http_transport.h"
#include "src/base/clock.h"

namespace consentd::adapters {

// REQUIRES: config.settings holds KlaviyoSettings; the required credentials are
// present (MakeAdapter checks both). `transport` and `clock` must outlive
// the adapter.
std::unique_ptr<Adapter> MakeKlaviyoAdapter(AdapterConfig config, std::shared_ptr<HttpTransport> transport,
                                        const Clock& clock);

}  // namespace consentd::adapters

#endif  // CONSENTD_ADAPTERS_KLAVIYO_H_
