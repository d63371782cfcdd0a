#include <catch2/catch.hpp>

#include <string>

#include "src/base/clock.h"
#include "src/base/time_format.h"

namespace consentd {
namespace {

TEST_CASE("FormatTimestampMillis writes the 24-byte UTC form", "[time]") {
  CHECK(FormatTimestampMillis(0) == "1970-01-01T00:00:00.000Z");
  CHECK(FormatTimestampMillis(1735787045678) == "2025-01-02T03:04:05.678Z");
  CHECK(FormatTimestampMillis(1) == "1970-01-01T00:00:00.001Z");
  CHECK(FormatTimestampMillis(-1) == "1969-12-31T23:59:59.999Z");
  CHECK(FormatTimestampMillis(253402300799999) == "9999-12-31T23:59:59.999Z");
  CHECK(FormatTimestampMillis(-62167219200000) == "0000-01-01T00:00:00.000Z");
}

TEST_CASE("FormatTimestampMillis and ParseTimestampMillis round trip", "[time]") {
  for (int64_t ms : {int64_t{0}, int64_t{1}, int64_t{-1}, int64_t{999}, int64_t{1000}, int64_t{1700000000000},
                     int64_t{1709164800000} /* 2024-02-29 */, int64_t{951782400000} /* 2000-02-29 */,
                     int64_t{253402300799999}, int64_t{-62167219200000}}) {
    CAPTURE(ms);
    std::string text = FormatTimestampMillis(ms);
    REQUIRE(text.size() == 24);
    Result<int64_t> back = ParseTimestampMillis(text);
    REQUIRE(back.ok());
    CHECK(*back == ms);
  }
  // A dense sweep across a leap day and a year boundary.
  for (int64_t ms = 1709078400000; ms < 1709078400000 + 3 * 86400000LL; ms += 3600000 + 7) {
    CAPTURE(ms);
    REQUIRE(ParseTimestampMillis(FormatTimestampMillis(ms)).value() == ms);
  }
}

TEST_CASE("ParseTimestampMillis validates the calendar date", "[time]") {
  CHECK(ParseTimestampMillis("2024-02-29T00:00:00.000Z").value() == 1709164800000);
  CHECK(ParseTimestampMillis("2000-02-29T12:00:00.000Z").ok());
  CHECK(ParseTimestampMillis("2024-12-31T23:59:59.999Z").ok());
  for (const char* bad : {"2023-02-29T00:00:00.000Z", "1900-02-29T00:00:00.000Z", "2024-02-30T00:00:00.000Z",
                          "2024-04-31T00:00:00.000Z", "2024-13-01T00:00:00.000Z", "2024-00-01T00:00:00.000Z",
                          "2024-01-00T00:00:00.000Z", "2024-01-32T00:00:00.000Z", "2024-01-01T24:00:00.000Z",
                          "2024-01-01T00:60:00.000Z", "2024-01-01T00:00:60.000Z"}) {
    CAPTURE(bad);
    Result<int64_t> r = ParseTimestampMillis(bad);
    CHECK_FALSE(r.ok());
    CHECK(r.status().code() == StatusCode::kInvalidArgument);
  }
}

TEST_CASE("ParseTimestampMillis accepts only the exact form it writes", "[time]") {
  for (const char* bad : {"", "2024-01-01T00:00:00Z", "2024-01-01T00:00:00.00Z", "2024-01-01T00:00:00.0000Z",
                          "2024-01-01T00:00:00.000z", "2024-01-01t00:00:00.000Z", "2024-01-01 00:00:00.000Z",
                          "2024-01-01T00:00:00.000+00:00", "2024-01-01T00:00:00.000", "+024-01-01T00:00:00.000Z",
                          "2024-1-01T00:00:00.000ZZ", "2024/01/01T00:00:00.000Z", "2024-01-01T00:00:00,000Z",
                          "2024-01-01T0a:00:00.000Z", " 2024-01-01T00:00:00.000Z"}) {
    CAPTURE(bad);
    CHECK_FALSE(ParseTimestampMillis(bad).ok());
  }
}

TEST_CASE("ParseRfc3339 applies numeric offsets", "[time]") {
  const int64_t base = 1709164800000;  // 2024-02-29T00:00:00Z
  CHECK(ParseRfc3339("2024-02-29T00:00:00Z").value() == base);
  CHECK(ParseRfc3339("2024-02-29T00:00:00z").value() == base);
  CHECK(ParseRfc3339("2024-02-29t00:00:00Z").value() == base);
  CHECK(ParseRfc3339("2024-02-29T00:00:00+00:00").value() == base);
  CHECK(ParseRfc3339("2024-02-29T00:00:00-00:00").value() == base);
  CHECK(ParseRfc3339("2024-02-29T02:00:00+02:00").value() == base);
  CHECK(ParseRfc3339("2024-02-28T19:00:00-05:00").value() == base);
  CHECK(ParseRfc3339("2024-02-29T05:30:00+05:30").value() == base);
  CHECK(ParseRfc3339("2024-02-28T00:01:00-23:59").value() == base);
  CHECK(ParseRfc3339("2024-02-28T00:01:00+23:59").value() == base - 2 * 86400000LL + 120000);
}

TEST_CASE("ParseRfc3339 reads fractions of any length and truncates below a millisecond", "[time]") {
  const int64_t base = 1709164800000;
  CHECK(ParseRfc3339("2024-02-29T00:00:00.5Z").value() == base + 500);
  CHECK(ParseRfc3339("2024-02-29T00:00:00.12Z").value() == base + 120);
  CHECK(ParseRfc3339("2024-02-29T00:00:00.123Z").value() == base + 123);
  CHECK(ParseRfc3339("2024-02-29T00:00:00.123999999Z").value() == base + 123);
  CHECK(ParseRfc3339("2024-02-29T00:00:00.000000001+01:00").value() == base - 3600000);
  CHECK(ParseRfc3339("2024-02-29T00:00:00.999999999999999999999999Z").value() == base + 999);
  CHECK(ParseRfc3339(FormatTimestampMillis(1735787045678)).value() == 1735787045678);
}

TEST_CASE("ParseRfc3339 rejects malformed date-times", "[time]") {
  for (const char* bad : {"", "2024-02-29", "2024-02-29T00:00:00", "2024-02-29T00:00:00.Z",
                          "2024-02-29T00:00:00+0200", "2024-02-29T00:00:00+02", "2024-02-29T00:00:00+24:00",
                          "2024-02-29T00:00:00+02:60", "2024-02-29T00:00:00Zjunk", "2024-02-29T00:00:00+02:00junk",
                          "2023-02-29T00:00:00Z", "2024-02-29T25:00:00Z", "2024-02-29 00:00:00Z",
                          "2024-02-29T00:00:00.1x2Z", "2024-02-29T00:00:00 Z"}) {
    CAPTURE(bad);
    Result<int64_t> r = ParseRfc3339(bad);
    CHECK_FALSE(r.ok());
    CHECK(r.status().code() == StatusCode::kInvalidArgument);
  }
}

TEST_CASE("A FakeClock returns what the test sets", "[clock]") {
  FakeClock c(1000);
  CHECK(c.NowMillis() == 1000);
  c.Advance(5);
  CHECK(c.NowMillis() == 1005);
  c.Set(42);
  CHECK(c.NowMillis() == 42);
  int64_t now = SystemClock::Get().NowMillis();
  CHECK(now > 1'700'000'000'000);  // after November 2023
}

}  // namespace
}  // namespace consentd
