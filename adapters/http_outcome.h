// The outcome classes shared by every adapter (issue 5, "Outcome classes"):
// how an HTTP status or a transport error maps to done / retry /
// reauthenticate / permanent before an adapter applies its system's own
// rules (Mailchimp's "Member In Compliance State", Salesforce's
// REQUEST_LIMIT_EXCEEDED, Shopify's THROTTLED, a 404 on a delete...).
//
// Thread-safety: pure functions.
#ifndef CONSENTD_ADAPTERS_HTTP_OUTCOME_H_
#define CONSENTD_ADAPTERS_HTTP_OUTCOME_H_

#include <cstdint>

#include "adapters/adapter.h"
#include "adapters/http_transport.h"

namespace consentd::adapters {

// The generic classification of `response`:
//   transport errors (refused, timeout, dropped, other) -> kRetry with the
//     error's code; kBadUrl and kTls -> kPermanent (configuration errors);
//   2xx -> kDone "ok"; 401 -> kReauthenticate "http_401";
//   408, 425, 429, 5xx -> kRetry "http_<status>", with retry_after_ms from
//     Retry-After (relative to now_ms);
//   any other status -> kPermanent "http_<status>".
Outcome ClassifyHttp(const HttpResponse& response, int64_t now_ms);

}  // namespace consentd::adapters

#endif  // CONSENTD_ADAPTERS_HTTP_OUTCOME_H_
