#include "policies/jurisdiction.h"

namespace consentd::policies {

std::string PeriodToString(const Period& p) {
  std::string n = std::to_string(p.count);
  switch (p.unit) {
    case Period::Unit::kCalendarDays: return n + (p.count == 1 ? " day" : " days");
    case Period::Unit::kCalendarMonths: return n + (p.count == 1 ? " month" : " months");
    case Period::Unit::kBusinessDays: return n + (p.count == 1 ? " business day" : " business days");
  }
  return n;
}

std::string_view LawName(Law l) {
  switch (l) {
    case Law::kGdpr: return "gdpr";
    case Law::kCcpa: return "ccpa";
    case Law::kOther: return "other";
  }
  return "invalid";
}

std::optional<Law> ParseLaw(std::string_view name) {
  if (name == "gdpr") return Law::kGdpr;
  if (name == "ccpa") return Law::kCcpa;
  if (name == "other") return Law::kOther;
  return std::nullopt;
}

}  // namespace consentd::policies
