#include "policies/tombstone_policy.h"

#include <algorithm>
#include <initializer_list>
#include <optional>
#include <string_view>

#include <nlohmann/json.hpp>

#include "policies/document_parser.h"
#include "policies/text.h"

namespace consentd::policies {
namespace {

using json = nlohmann::json;
using text::Quote;

constexpr int64_t kMinute = 60'000;
constexpr int64_t kMinIntervalMs = kMinute;               // below: a sync loop could still storm
constexpr int64_t kMaxIntervalMs = 30LL * 24 * 60 * kMinute;  // above: the system keeps the person for a month

class SectionParser {
 public:
  SectionParser(const std::string& file, std::vector<PolicyError>* errors) : file_(file), errors_(errors) {}

  void Error(const std::string& ptr, std::string message) {
    errors_->push_back(PolicyError{file_, ptr, std::move(message), 0, 0});
  }

  static std::string Kind(const json& v) {
    if (v.is_object()) return "an object";
    if (v.is_array()) return "an array";
    if (v.is_string()) return "a string";
    if (v.is_boolean()) return "a boolean";
    if (v.is_number()) return "a number";
    return "null";
  }

  // True if `v` is an object; reports members not in `allowed`.
  bool Object(const json& v, const std::string& ptr, std::initializer_list<std::string_view> allowed) {
    if (!v.is_object()) {
      Error(ptr, "must be an object, not " + Kind(v));
      return false;
    }
    std::vector<std::string> names(allowed.begin(), allowed.end());
    for (const auto& [key, value] : v.items()) {
      (void)value;
      if (std::find(names.begin(), names.end(), key) != names.end()) continue;
      std::string hint = ClosestMatch(key, names);
      std::string list;
      for (const std::string& n : names) list += (list.empty() ? "" : ", ") + n;
      Error(JsonPointerChild(ptr, key), "unknown field " + Quote(key) +
                                            (hint.empty() ? " (expected one of: " + list + ")"
                                                          : " (did you mean " + Quote(hint) + "?)"));
    }
    return true;
  }

  std::optional<bool> Bool(const json& v, const std::string& ptr) {
    if (v.is_boolean()) return v.get<bool>();
    Error(ptr, "must be true or false, not " + Kind(v));
    return std::nullopt;
  }

  std::optional<int64_t> Int(const json& v, const std::string& ptr, int64_t min, int64_t max) {
    if (!v.is_number_integer() && !v.is_number_unsigned()) {
      Error(ptr, "must be an integer, not " + Kind(v));
      return std::nullopt;
    }
    const int64_t n = v.is_number_unsigned() && v.get<uint64_t>() > static_cast<uint64_t>(INT64_MAX)
                          ? INT64_MAX
                          : v.get<int64_t>();
    if (n < min || n > max) {
      Error(ptr, "must be between " + std::to_string(min) + " and " + std::to_string(max) + ", not " +
                     std::to_string(n));
      return std::nullopt;
    }
    return n;
  }

  // {"seconds"|"minutes"|"hours"|"days": N}, exactly one unit.
  std::optional<int64_t> Interval(const json& v, const std::string& ptr) {
    static const std::initializer_list<std::pair<std::string_view, int64_t>> kUnits = {
        {"seconds", 1000}, {"minutes", kMinute}, {"hours", 60 * kMinute}, {"days", 24 * 60 * kMinute}};
    if (!Object(v, ptr, {"seconds", "minutes", "hours", "days"})) return std::nullopt;
    if (v.size() != 1) {
      Error(ptr, "give exactly one of seconds, minutes, hours, days, such as {\"hours\": 1}");
      return std::nullopt;
    }
    for (const auto& [unit, ms] : kUnits) {
      auto it = v.find(unit);
      if (it == v.end()) continue;
      std::optional<int64_t> n = Int(*it, JsonPointerChild(ptr, unit), 1, kMaxIntervalMs / ms);
      if (!n) return std::nullopt;
      if (*n * ms < kMinIntervalMs) {
        Error(ptr, "must be at least 1 minute (a shorter interval lets a sync loop cause a storm of erasures)");
        return std::nullopt;
      }
      return *n * ms;
    }
    return std::nullopt;  // an unknown unit, reported by Object
  }

  void Lift(const json& v, const std::string& ptr, TombstoneLiftRules* lift) {
    if (!Object(v, ptr, {"allowed", "require_evidence", "allowed_sources", "min_days_after_erasure"})) return;
    if (auto it = v.find("allowed"); it != v.end()) {
      if (auto b = Bool(*it, ptr + "/allowed")) lift->allowed = *b;
    }
    if (auto it = v.find("require_evidence"); it != v.end()) {
      if (auto b = Bool(*it, ptr + "/require_evidence")) lift->require_evidence = *b;
    }
    if (auto it = v.find("min_days_after_erasure"); it != v.end()) {
      if (auto n = Int(*it, ptr + "/min_days_after_erasure", 0, 3650)) {
        lift->min_days_after_erasure = static_cast<int32_t>(*n);
      }
    }
    if (auto it = v.find("allowed_sources"); it != v.end()) {
      const std::string sp = ptr + "/allowed_sources";
      if (!it->is_array()) {
        Error(sp, "must be an array of source methods, not " + Kind(*it));
        return;
      }
      if (it->empty()) {
        Error(sp, "must name at least one source method (set \"allowed\": false to forbid lifting)");
        return;
      }
      std::vector<domain::ConsentMethod> methods;
      for (size_t i = 0; i < it->size(); ++i) {
        const json& m = (*it)[i];
        const std::string ip = JsonPointerChild(sp, i);
        if (!m.is_string()) {
          Error(ip, "must be a string, not " + Kind(m));
          continue;
        }
        Result<domain::ConsentMethod> method = domain::ParseConsentMethod(m.get<std::string>());
        if (!method.ok()) {
          Error(ip, "unknown source method " + Quote(m.get<std::string>()) +
                        " (expected signup_form, checkout_checkbox, preference_centre, double_opt_in, "
                        "support_agent, import, api, webhook or sync)");
          continue;
        }
        if (domain::MethodIsWithdrawOnly(*method)) {
          Error(ip, Quote(m.get<std::string>()) + " only ever withdraws consent; it cannot lift a tombstone");
          continue;
        }
        if (std::find(methods.begin(), methods.end(), *method) != methods.end()) {
          Error(ip, Quote(m.get<std::string>()) + " is listed twice");
          continue;
        }
        methods.push_back(*method);
      }
      if (!methods.empty()) lift->allowed_sources = std::move(methods);
    }
  }

 private:
  const std::string& file_;
  std::vector<PolicyError>* errors_;
};

}  // namespace

bool TombstoneLiftRules::AllowsSource(domain::ConsentMethod m) const {
  return std::find(allowed_sources.begin(), allowed_sources.end(), m) != allowed_sources.end();
}

TombstonePolicy ParseTombstonePolicy(const std::string& file, const json& v, std::vector<PolicyError>* errors) {
  const std::string ptr = "/tombstones";
  TombstonePolicy out;
  out.defined_in = file;
  SectionParser p(file, errors);
  if (!p.Object(v, ptr, {"resend_erasure_on_recreation", "resend_min_interval", "lift"})) return out;
  if (auto it = v.find("resend_erasure_on_recreation"); it != v.end()) {
    if (auto b = p.Bool(*it, ptr + "/resend_erasure_on_recreation")) out.resend_erasure_on_recreation = *b;
  }
  if (auto it = v.find("resend_min_interval"); it != v.end()) {
    if (auto ms = p.Interval(*it, ptr + "/resend_min_interval")) out.resend_min_interval_ms = *ms;
  }
  if (auto it = v.find("lift"); it != v.end()) p.Lift(*it, ptr + "/lift", &out.lift);
  return out;
}

}  // namespace consentd::policies
