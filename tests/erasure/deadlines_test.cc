// Deadline arithmetic: GDPR months per Regulation 1182/71 (month ends, leap
// years), CCPA days and business days, extensions.
#include <catch2/catch.hpp>

#include "src/base/time_format.h"
#include "src/erasure/deadlines.h"

namespace consentd::erasure {
namespace {

using policies::Period;
using U = Period::Unit;

int64_t At(const std::string& rfc3339) {
  Result<int64_t> t = ParseRfc3339(rfc3339);
  REQUIRE(t.ok());
  return *t;
}

policies::Jurisdiction Gdpr() {
  policies::Jurisdiction j;
  j.id = "gdpr";
  j.law = policies::Law::kGdpr;
  j.response = {U::kCalendarMonths, 1};
  j.extension = policies::Extension{{U::kCalendarMonths, 2}, true};
  return j;
}

policies::Jurisdiction Ccpa() {
  policies::Jurisdiction j;
  j.id = "ccpa";
  j.law = policies::Law::kCcpa;
  j.response = {U::kCalendarDays, 45};
  j.extension = policies::Extension{{U::kCalendarDays, 45}, true};
  j.acknowledge = Period{U::kBusinessDays, 10};
  return j;
}

TEST_CASE("GDPR: one calendar month from the day after receipt, month ends and leap years", "[erasure][deadlines]") {
  struct Row {
    const char* received;
    const char* due;
    const char* extended;
  };
  const Row rows[] = {
      {"2024-01-15T10:00:00Z", "2024-02-15", "2024-04-15"},
      {"2024-01-31T23:59:59Z", "2024-02-29", "2024-04-30"},  // leap year: Feb 29
      {"2023-01-31T00:00:00Z", "2023-02-28", "2023-04-30"},  // common year: Feb 28
      {"2024-01-29T08:00:00Z", "2024-02-29", "2024-04-29"},
      {"2024-01-30T08:00:00Z", "2024-02-29", "2024-04-30"},
      {"2023-01-29T08:00:00Z", "2023-02-28", "2023-04-29"},
      {"2024-03-31T12:00:00Z", "2024-04-30", "2024-06-30"},  // 31 -> a 30-day month
      {"2024-05-31T12:00:00Z", "2024-06-30", "2024-08-31"},
      {"2024-08-31T12:00:00Z", "2024-09-30", "2024-11-30"},
      {"2024-12-15T12:00:00Z", "2025-01-15", "2025-03-15"},  // over the year end
      {"2024-12-31T12:00:00Z", "2025-01-31", "2025-03-31"},
      {"2023-11-30T12:00:00Z", "2023-12-30", "2024-02-29"},  // extension lands on a leap day
      {"2100-01-31T12:00:00Z", "2100-02-28", "2100-04-30"},  // 2100 is not a leap year
      {"2000-01-31T12:00:00Z", "2000-02-29", "2000-04-30"},  // 2000 is
      {"2024-02-29T12:00:00Z", "2024-03-29", "2024-05-29"},
      {"2024-05-08T00:00:00Z", "2024-06-08", "2024-08-08"},  // due on a Saturday: not moved (Art. 3(4) unused)
  };
  for (const Row& r : rows) {
    INFO(r.received);
    Deadlines d = ComputeDeadlines(Gdpr(), At(r.received));
    CHECK(FormatDay(d.due) == r.due);
    REQUIRE(d.extended_due.has_value());
    CHECK(FormatDay(*d.extended_due) == r.extended);
    CHECK_FALSE(d.acknowledge_by.has_value());
  }
}

TEST_CASE("CCPA: 45 calendar days (+45) and 10 business days to acknowledge", "[erasure][deadlines]") {
  struct Row {
    const char* received;
    const char* due;
    const char* extended;
    const char* ack;
  };
  const Row rows[] = {
      // Monday: ten weekdays later is the Monday two weeks on.
      {"2024-01-15T10:00:00Z", "2024-02-29", "2024-04-14", "2024-01-29"},
      // Friday: the weekend does not count.
      {"2024-01-19T10:00:00Z", "2024-03-04", "2024-04-18", "2024-02-02"},
      // Saturday and Sunday receipts: counting starts on Monday.
      {"2024-01-20T10:00:00Z", "2024-03-05", "2024-04-19", "2024-02-02"},
      {"2024-01-21T10:00:00Z", "2024-03-06", "2024-04-20", "2024-02-02"},
      // Over a leap day and a year end.
      {"2024-02-10T00:00:00Z", "2024-03-26", "2024-05-10", "2024-02-23"},
      {"2023-02-10T00:00:00Z", "2023-03-27", "2023-05-11", "2023-02-24"},
      {"2024-12-20T16:00:00Z", "2025-02-03", "2025-03-20", "2025-01-03"},
  };
  for (const Row& r : rows) {
    INFO(r.received);
    Deadlines d = ComputeDeadlines(Ccpa(), At(r.received));
    CHECK(FormatDay(d.due) == r.due);
    REQUIRE(d.extended_due.has_value());
    CHECK(FormatDay(*d.extended_due) == r.extended);
    REQUIRE(d.acknowledge_by.has_value());
    CHECK(FormatDay(*d.acknowledge_by) == r.ack);
  }
}

TEST_CASE("Business days skip every weekend", "[erasure][deadlines]") {
  Result<DayNumber> fri = ParseDay("2024-03-01");
  REQUIRE(fri.ok());
  CHECK(FormatDay(AddPeriod(*fri, {U::kBusinessDays, 1})) == "2024-03-04");
  CHECK(FormatDay(AddPeriod(*fri, {U::kBusinessDays, 5})) == "2024-03-08");
  CHECK(FormatDay(AddPeriod(*fri, {U::kBusinessDays, 6})) == "2024-03-11");
  CHECK(FormatDay(AddPeriod(*fri, {U::kBusinessDays, 15})) == "2024-03-22");
}

TEST_CASE("Mixed units add the extension to the first deadline", "[erasure][deadlines]") {
  policies::Jurisdiction j;
  j.response = {U::kCalendarDays, 20};
  j.extension = policies::Extension{{U::kCalendarMonths, 1}, true};
  Deadlines d = ComputeDeadlines(j, At("2024-01-11T00:00:00Z"));
  CHECK(FormatDay(d.due) == "2024-01-31");
  CHECK(FormatDay(*d.extended_due) == "2024-02-29");
}

TEST_CASE("A deadline lasts to the end of its day, in UTC", "[erasure][deadlines]") {
  Result<DayNumber> d = ParseDay("2024-02-29");
  REQUIRE(d.ok());
  CHECK(EndOfDayMillis(*d) == At("2024-03-01T00:00:00Z"));
  CHECK(DayOf(At("2024-02-29T23:59:59.999Z")) == *d);
  CHECK(DayOf(At("2024-03-01T00:00:00Z")) == *d + 1);
  CHECK(DayOf(-1) == -1);
}

TEST_CASE("Dates parse strictly", "[erasure][deadlines]") {
  CHECK_FALSE(ParseDay("2023-02-29").ok());
  CHECK_FALSE(ParseDay("2024-2-29").ok());
  CHECK_FALSE(ParseDay("2024-02-29x").ok());
  CHECK_FALSE(ParseDay("").ok());
  CHECK(ParseDay("2024-02-29").ok());
}

}  // namespace
}  // namespace consentd::erasure
