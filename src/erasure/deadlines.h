// Deadlines: the legal clocks of an erasure request, computed from the
// jurisdiction's periods (policies/jurisdiction.h) with Howard Hinnant's date
// library. Dates are UTC calendar dates; a deadline is the END of its day
// (a request due on 2024-02-29 is overdue from 2024-03-01T00:00:00Z).
//
//   calendar months  EU Regulation 1182/71 Art. 3: counting starts the day
//                    after receipt and ends on the same date N months later;
//                    when that month has no such date, on its last day
//                    (received Jan 31 -> due Feb 28, or Feb 29 in a leap year).
//   calendar days    receipt date + N (day 1 is the day after receipt).
//   business days    the N-th Monday..Friday after the receipt date
//                    (holidays are not known to consentd).
//
// Art. 3(4) of 1182/71 would move a deadline that falls on a weekend to the
// next working day; consentd does not: the earlier date is the safe one.
//
// An extension runs from receipt for the combined period when both periods
// have the same unit (GDPR: 1 + 2 = 3 months from receipt; CCPA: 45 + 45 =
// 90 days), else it is added to the first deadline.
//
// Thread-safety: pure functions.
#ifndef CONSENTD_ERASURE_DEADLINES_H_
#define CONSENTD_ERASURE_DEADLINES_H_

#include <cstdint>
#include <optional>
#include <string>

#include "policies/jurisdiction.h"
#include "src/base/result.h"

namespace consentd::erasure {

// Days since 1970-01-01 (UTC), i.e. date::sys_days as an integer.
using DayNumber = int32_t;

DayNumber DayOf(int64_t unix_millis);
// Start of the day after `day`: the first instant past a deadline on `day`.
int64_t EndOfDayMillis(DayNumber day);
// "2024-02-29".
std::string FormatDay(DayNumber day);
Result<DayNumber> ParseDay(std::string_view text);

// The date a period ends when it starts the day after `start`.
DayNumber AddPeriod(DayNumber start, const policies::Period& period);

struct Deadlines {
  DayNumber due = 0;                        // response deadline
  std::optional<DayNumber> extended_due;    // if the one extension is used
  std::optional<DayNumber> acknowledge_by;  // CCPA: confirm receipt
};

Deadlines ComputeDeadlines(const policies::Jurisdiction& j, int64_t received_at_ms);

}  // namespace consentd::erasure

#endif  // CONSENTD_ERASURE_DEADLINES_H_
