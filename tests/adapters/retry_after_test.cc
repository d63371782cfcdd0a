#include "adapters/retry_after.h"

#include <catch2/catch.hpp>

namespace consentd::adapters {
namespace {

// 2015-10-21T07:28:00Z, the RFC 9110 example date.
constexpr int64_t kOct21 = 1445412480000;
constexpr int64_t kDayMs = 24LL * 3600 * 1000;

TEST_CASE("Retry-After delay-seconds become milliseconds", "[retry_after]") {
  CHECK(ParseRetryAfter("0", kOct21) == 0);
  CHECK(ParseRetryAfter("1", kOct21) == 1000);
  CHECK(ParseRetryAfter("120", kOct21) == 120000);
  CHECK(ParseRetryAfter("  7\t", kOct21) == 7000);
}

TEST_CASE("Retry-After fractional seconds as Shopify sends them are honoured", "[retry_after]") {
  CHECK(ParseRetryAfter("2.0", kOct21) == 2000);
  CHECK(ParseRetryAfter("0.5", kOct21) == 500);
  CHECK(ParseRetryAfter("1.25", kOct21) == 1250);
  CHECK(ParseRetryAfter("3.", kOct21) == 3000);
  // Precision beyond milliseconds is dropped, not rounded into a different second.
  CHECK(ParseRetryAfter("0.0019", kOct21) == 1);
}

TEST_CASE("Retry-After IMF-fixdate is relative to now", "[retry_after]") {
  CHECK(ParseRetryAfter("Wed, 21 Oct 2015 07:28:00 GMT", kOct21) == 0);
  CHECK(ParseRetryAfter("Wed, 21 Oct 2015 07:28:30 GMT", kOct21) == 30000);
  CHECK(ParseRetryAfter("Wed, 21 Oct 2015 07:29:00 GMT", kOct21 + 15000) == 45000);
}

TEST_CASE("Retry-After obsolete RFC 850 and asctime dates are accepted", "[retry_after]") {
  CHECK(ParseRetryAfter("Wednesday, 21-Oct-15 07:28:10 GMT", kOct21) == 10000);
  CHECK(ParseRetryAfter("Wed Oct 21 07:28:20 2015", kOct21) == 20000);
  // asctime pads a one-digit day with a space.
  constexpr int64_t kNov6_1994 = 784111777000;  // Sun, 06 Nov 1994 08:49:37 GMT
  CHECK(ParseRetryAfter("Sun Nov  6 08:49:40 1994", kNov6_1994) == 3000);
  CHECK(ParseRetryAfter("Sunday, 06-Nov-94 08:49:38 GMT", kNov6_1994) == 1000);
}

TEST_CASE("Retry-After dates in the past mean retry now", "[retry_after]") {
  CHECK(ParseRetryAfter("Wed, 21 Oct 2015 07:27:00 GMT", kOct21) == 0);
  CHECK(ParseRetryAfter("Sun, 06 Nov 1994 08:49:37 GMT", kOct21) == 0);
}

TEST_CASE("Retry-After garbage, empty and negative values are rejected", "[retry_after]") {
  CHECK_FALSE(ParseRetryAfter("", kOct21).has_value());
  CHECK_FALSE(ParseRetryAfter("   ", kOct21).has_value());
  CHECK_FALSE(ParseRetryAfter("soon", kOct21).has_value());
  CHECK_FALSE(ParseRetryAfter("-1", kOct21).has_value());
  CHECK_FALSE(ParseRetryAfter("-0.5", kOct21).has_value());
  CHECK_FALSE(ParseRetryAfter("1e3", kOct21).has_value());
  CHECK_FALSE(ParseRetryAfter("12abc", kOct21).has_value());
  CHECK_FALSE(ParseRetryAfter("1.2.3", kOct21).has_value());
  CHECK_FALSE(ParseRetryAfter("NaN", kOct21).has_value());
  CHECK_FALSE(ParseRetryAfter("inf", kOct21).has_value());
  CHECK_FALSE(ParseRetryAfter("Wed, 32 Oct 2015 07:28:00 GMT", kOct21).has_value());
  CHECK_FALSE(ParseRetryAfter("Wed, 21 Oct 2015 07:28:00 GMT trailing", kOct21).has_value());
  CHECK_FALSE(ParseRetryAfter("Wed, 21 Oct 2015 07:28:00 CET", kOct21).has_value());
}

TEST_CASE("Retry-After huge delays are capped at one day", "[retry_after]") {
  CHECK(ParseRetryAfter("86400", kOct21) == kDayMs);
  CHECK(ParseRetryAfter("86401", kOct21) == kDayMs);
  CHECK(ParseRetryAfter("999999999999999999999999999999", kOct21) == kDayMs);
  CHECK(ParseRetryAfter("99999999999999999999.999", kOct21) == kDayMs);
  CHECK(ParseRetryAfter("Fri, 01 Jan 2100 00:00:00 GMT", kOct21) == kDayMs);
}

}  // namespace
}  // namespace consentd::adapters
