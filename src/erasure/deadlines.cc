#include "src/erasure/deadlines.h"

#include <date/date.h>

#include <cstdio>

namespace consentd::erasure {
namespace {

constexpr int64_t kMillisPerDay = 86'400'000;

date::sys_days ToSys(DayNumber d) { return date::sys_days(date::days(d)); }
DayNumber FromSys(date::sys_days d) { return static_cast<DayNumber>(d.time_since_epoch().count()); }

DayNumber AddMonths(DayNumber start, int32_t months) {
  date::year_month_day ymd(ToSys(start));
  date::year_month_day target = ymd + date::months(months);
  if (!target.ok()) {
    // The month has no such date (Jan 31 + 1 month): its last day.
    target = date::year_month_day_last(target.year(), date::month_day_last(target.month()));
  }
  return FromSys(date::sys_days(target));
}

DayNumber AddBusinessDays(DayNumber start, int32_t n) {
  DayNumber d = start;
  while (n > 0) {
    ++d;
    date::weekday wd(ToSys(d));
    if (wd != date::Saturday && wd != date::Sunday) --n;
  }
  return d;
}

}  // namespace

DayNumber DayOf(int64_t unix_millis) {
  // Floor division: times before 1970 still land on their own day.
  int64_t q = unix_millis / kMillisPerDay;
  if (unix_millis % kMillisPerDay < 0) --q;
  return static_cast<DayNumber>(q);
}

int64_t EndOfDayMillis(DayNumber day) { return (static_cast<int64_t>(day) + 1) * kMillisPerDay; }

std::string FormatDay(DayNumber day) {
  date::year_month_day ymd(ToSys(day));
  char buf[32];
  std::snprintf(buf, sizeof buf, "%04d-%02u-%02u", static_cast<int>(ymd.year()), static_cast<unsigned>(ymd.month()),
                static_cast<unsigned>(ymd.day()));
  return buf;
}

Result<DayNumber> ParseDay(std::string_view text) {
  int y = 0;
  unsigned m = 0, d = 0;
  char tail = 0;
  std::string s(text);
  if (s.size() != 10 || std::sscanf(s.c_str(), "%4d-%2u-%2u%c", &y, &m, &d, &tail) != 3 || s[4] != '-' ||
      s[7] != '-') {
    return Status::InvalidArgument("expected a date YYYY-MM-DD");
  }
  date::year_month_day ymd{date::year(y), date::month(m), date::day(d)};
  if (!ymd.ok()) return Status::InvalidArgument("no such date");
  return FromSys(date::sys_days(ymd));
}

DayNumber AddPeriod(DayNumber start, const policies::Period& p) {
  using U = policies::Period::Unit;
  switch (p.unit) {
    case U::kCalendarMonths:
      return AddMonths(start, p.count);
    case U::kBusinessDays:
      return AddBusinessDays(start, p.count);
    case U::kCalendarDays:
      break;
  }
  return start + p.count;
}

Deadlines ComputeDeadlines(const policies::Jurisdiction& j, int64_t received_at_ms) {
  const DayNumber received = DayOf(received_at_ms);
  Deadlines out;
  out.due = AddPeriod(received, j.response);
  if (j.extension) {
    const policies::Period& e = j.extension->period;
    if (e.unit == j.response.unit) {
      out.extended_due = AddPeriod(received, policies::Period{e.unit, e.count + j.response.count});
    } else {
      out.extended_due = AddPeriod(out.due, e);
    }
  }
  if (j.acknowledge) out.acknowledge_by = AddPeriod(received, *j.acknowledge);
  return out;
}

}  // namespace consentd::erasure
