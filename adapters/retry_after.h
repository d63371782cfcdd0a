// Parsing of throttle hints: the Retry-After header (RFC 9110 §10.2.3:
// delay-seconds or an HTTP-date; Shopify sends fractional seconds such as
// "2.0", so those are accepted too).
//
// Thread-safety: pure functions.
#ifndef CONSENTD_ADAPTERS_RETRY_AFTER_H_
#define CONSENTD_ADAPTERS_RETRY_AFTER_H_

#include <cstdint>
#include <optional>
#include <string_view>

namespace consentd::adapters {

// The delay in milliseconds that `value` asks for, relative to `now_ms`
// (Unix ms; used for HTTP dates). A date in the past gives 0. nullopt for
// an empty, negative, non-finite or unparseable value. Delays are capped at
// one day (a hostile or broken server must not park a queue for ever).
std::optional<int64_t> ParseRetryAfter(std::string_view value, int64_t now_ms);

}  // namespace consentd::adapters

#endif  // CONSENTD_ADAPTERS_RETRY_AFTER_H_
