// Mailchimp Marketing API v3: member status by subscriber hash (MD5 of the lower-cased
// email), permanent delete. See downstream-apis.md §6.
//
// Thread-safety: thread-safe.
#ifndef CONSENTD_ADAPTERS_MAILCHIMP_H_
#define CONSENTD_ADAPTERS_MAILCHIMP_H_

#include <memory>
#include <string>
#include <string_view>

#include "adapters/adapter.h"
#include "adapters/adapter_config.h"
#include "adapters/http_transport.h"
#include "src/base/clock.h"

namespace consentd::adapters {

// REQUIRES: config.settings holds MailchimpSettings; the required credentials are
// present (MakeAdapter checks both). `transport` and `clock` must outlive
// the adapter.
std::unique_ptr<Adapter> MakeMailchimpAdapter(AdapterConfig config, std::shared_ptr<HttpTransport> transport,
                                              const Clock& clock);

// Mailchimp's subscriber hash, which names a member in every member URL: the
// lower-case hex MD5 of the lower-cased email (test vector T7). Lower-cases
// ASCII letters only (consentd normalizes emails before they get here). It
// is derived from an email, so it is personal data: never log it.
std::string MailchimpSubscriberHash(std::string_view email);

}  // namespace consentd::adapters

#endif  // CONSENTD_ADAPTERS_MAILCHIMP_H_
