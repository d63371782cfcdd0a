#include "adapters/retry_after.h"

#include <date/date.h>

#include <algorithm>
#include <chrono>
#include <sstream>
#include <string>

namespace consentd::adapters {

namespace {

constexpr int64_t kMaxDelayMs = 24LL * 3600 * 1000;

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// delay-seconds, optionally with a fraction: DIGIT+ [ "." DIGIT* ].
std::optional<int64_t> ParseSeconds(std::string_view s) {
  int64_t whole = 0;
  size_t i = 0;
  for (; i < s.size() && s[i] >= '0' && s[i] <= '9'; ++i) {
    if (whole > kMaxDelayMs) return kMaxDelayMs;  // already beyond the cap: stop before overflow
    whole = whole * 10 + (s[i] - '0');
  }
  if (i == 0) return std::nullopt;
  int64_t ms = std::min<int64_t>(whole, kMaxDelayMs / 1000) * 1000;
  if (i < s.size()) {
    if (s[i] != '.') return std::nullopt;
    ++i;
    int64_t scale = 100;
    for (; i < s.size(); ++i) {
      if (s[i] < '0' || s[i] > '9') return std::nullopt;
      ms += (s[i] - '0') * scale;
      scale /= 10;
    }
  }
  return std::min(ms, kMaxDelayMs);
}

// IMF-fixdate ("Sun, 06 Nov 1994 08:49:37 GMT"), and the obsolete RFC 850
// ("Sunday, 06-Nov-94 08:49:37 GMT") and asctime ("Sun Nov  6 08:49:37 1994")
// forms that RFC 9110 requires recipients to accept.
std::optional<int64_t> ParseHttpDate(std::string_view s) {
  static const char* const kFormats[] = {"%a, %d %b %Y %H:%M:%S GMT", "%A, %d-%b-%y %H:%M:%S GMT",
                                         "%a %b %e %H:%M:%S %Y"};
  for (const char* format : kFormats) {
    std::istringstream in{std::string(s)};
    date::sys_seconds tp;
    in >> date::parse(format, tp);
    if (!in.fail()) {
      in.peek();
      if (in.eof()) return std::chrono::duration_cast<std::chrono::milliseconds>(tp.time_since_epoch()).count();
    }
  }
  return std::nullopt;
}

}  // namespace

std::optional<int64_t> ParseRetryAfter(std::string_view value, int64_t now_ms) {
  value = Trim(value);
  if (value.empty()) return std::nullopt;
  if (value[0] >= '0' && value[0] <= '9') return ParseSeconds(value);
  std::optional<int64_t> at = ParseHttpDate(value);
  if (!at) return std::nullopt;
  return std::clamp<int64_t>(*at - now_ms, 0, kMaxDelayMs);
}

}  // namespace consentd::adapters
