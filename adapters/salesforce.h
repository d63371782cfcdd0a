// Salesforce (REST): opt-out fields on Contact/Lead and the Individual record, delete,
// OAuth token refresh, its error-array format. See downstream-apis.md §4.
//
// Thread-safety: thread-safe.
#ifndef CONSENTD_ADAPTERS_SALESFORCE_H_
#define CONSENTD_ADAPTERS_SALESFORCE_H_

#include <memory>

#include "adapters/adapter.h"
#include "adapters/adapter_config.h"
#include "adapters/http_transport.h"
#include "src/base/clock.h"

namespace consentd::adapters {

// REQUIRES: config.settings holds SalesforceSettings; the required credentials are
// present (MakeAdapter checks both). `transport` and `clock` must outlive
// the adapter.
std::unique_ptr<Adapter> MakeSalesforceAdapter(AdapterConfig config, std::shared_ptr<HttpTransport> transport,
                                        const Clock& clock);

}  // namespace consentd::adapters

#endif  // CONSENTD_ADAPTERS_SALESFORCE_H_
