#include "src/base/time_format.h"

#include <date/date.h>

#include <chrono>
#include <cstdio>

namespace consentd {
namespace {

bool Digits(std::string_view s, size_t pos, size_t n, int* out) {
  if (pos + n > s.size()) return false;
  int v = 0;
  for (size_t i = 0; i < n; ++i) {
    char c = s[pos + i];
    if (c < '0' || c > '9') return false;
    v = v * 10 + (c - '0');
  }
  *out = v;
  return true;
}

Result<int64_t> ToMillis(int y, int mo, int d, int h, int mi, int s, int ms) {
  using namespace date;
  year_month_day ymd{year{y}, month{static_cast<unsigned>(mo)}, day{static_cast<unsigned>(d)}};
  if (!ymd.ok()) return Status::InvalidArgument("timestamp: invalid calendar date");
  if (h > 23 || mi > 59 || s > 59) return Status::InvalidArgument("timestamp: invalid time of day");
  auto days = sys_days(ymd).time_since_epoch();
  int64_t total = std::chrono::duration_cast<std::chrono::milliseconds>(days).count();
  total += ((static_cast<int64_t>(h) * 60 + mi) * 60 + s) * 1000 + ms;
  return total;
}

}  // namespace

std::string FormatTimestampMillis(int64_t unix_millis) {
  using namespace std::chrono;
  sys_time<milliseconds> tp{milliseconds{unix_millis}};
  auto day_point = date::floor<date::days>(tp);
  date::year_month_day ymd{day_point};
  date::hh_mm_ss<milliseconds> tod{tp - day_point};
  char buf[32];
  std::snprintf(buf, sizeof buf, "%04d-%02u-%02uT%02d:%02d:%02d.%03dZ", static_cast<int>(ymd.year()),
                static_cast<unsigned>(ymd.month()), static_cast<unsigned>(ymd.day()),
                static_cast<int>(tod.hours().count()), static_cast<int>(tod.minutes().count()),
                static_cast<int>(tod.seconds().count()), static_cast<int>(tod.subseconds().count()));
  return buf;
}

Result<int64_t> ParseTimestampMillis(std::string_view t) {
  int y, mo, d, h, mi, s, ms;
  if (t.size() != 24 || t[4] != '-' || t[7] != '-' || t[10] != 'T' || t[13] != ':' || t[16] != ':' ||
      t[19] != '.' || t[23] != 'Z' || !Digits(t, 0, 4, &y) || !Digits(t, 5, 2, &mo) ||
      !Digits(t, 8, 2, &d) || !Digits(t, 11, 2, &h) || !Digits(t, 14, 2, &mi) || !Digits(t, 17, 2, &s) ||
      !Digits(t, 20, 3, &ms)) {
    return Status::InvalidArgument("timestamp: expected YYYY-MM-DDTHH:MM:SS.mmmZ");
  }
  return ToMillis(y, mo, d, h, mi, s, ms);
}

Result<int64_t> ParseRfc3339(std::string_view t) {
  int y, mo, d, h, mi, s;
  if (t.size() < 20 || t[4] != '-' || t[7] != '-' || (t[10] != 'T' && t[10] != 't') || t[13] != ':' ||
      t[16] != ':' || !Digits(t, 0, 4, &y) || !Digits(t, 5, 2, &mo) || !Digits(t, 8, 2, &d) ||
      !Digits(t, 11, 2, &h) || !Digits(t, 14, 2, &mi) || !Digits(t, 17, 2, &s)) {
    return Status::InvalidArgument("timestamp: not an RFC 3339 date-time");
  }
  size_t pos = 19;
  int ms = 0;
  if (pos < t.size() && t[pos] == '.') {
    ++pos;
    size_t start = pos;
    int scale = 100;
    while (pos < t.size() && t[pos] >= '0' && t[pos] <= '9') {
      ms += (t[pos] - '0') * scale;
      scale /= 10;
      ++pos;
    }
    if (pos == start) return Status::InvalidArgument("timestamp: empty fraction");
  }
  int64_t offset_min = 0;
  if (pos < t.size() && (t[pos] == 'Z' || t[pos] == 'z')) {
    ++pos;
  } else if (pos < t.size() && (t[pos] == '+' || t[pos] == '-')) {
    int oh, om;
    if (pos + 6 != t.size() || t[pos + 3] != ':' || !Digits(t, pos + 1, 2, &oh) || !Digits(t, pos + 4, 2, &om) ||
        oh > 23 || om > 59) {
      return Status::InvalidArgument("timestamp: invalid offset");
    }
    offset_min = oh * 60 + om;
    if (t[pos] == '-') offset_min = -offset_min;
    pos += 6;
  } else {
    return Status::InvalidArgument("timestamp: missing time zone offset");
  }
  if (pos != t.size()) return Status::InvalidArgument("timestamp: trailing characters");
  Result<int64_t> base = ToMillis(y, mo, d, h, mi, s, ms);
  if (!base.ok()) return base;
  return *base - offset_min * 60'000;
}

}  // namespace consentd
