// RFC 3339 timestamps in the one form consentd writes:
// "YYYY-MM-DDTHH:MM:SS.mmmZ" (UTC, millisecond precision, 24 bytes).
//
// Thread-safety: thread-safe.
#ifndef CONSENTD_BASE_TIME_FORMAT_H_
#define CONSENTD_BASE_TIME_FORMAT_H_

#include <cstdint>
#include <string>
#include <string_view>

#include "src/base/result.h"

namespace consentd {

// REQUIRES: millis is within years 0000..9999.
std::string FormatTimestampMillis(int64_t unix_millis);

// Parses exactly the form FormatTimestampMillis writes, and nothing else
// (no offsets, no other precisions); validates the calendar date.
Result<int64_t> ParseTimestampMillis(std::string_view text);

// Parses any RFC 3339 date-time (fractional seconds of any length, "Z" or
// a numeric offset), for input from outside. Sub-millisecond digits are
// truncated.
Result<int64_t> ParseRfc3339(std::string_view text);

}  // namespace consentd

#endif  // CONSENTD_BASE_TIME_FORMAT_H_
