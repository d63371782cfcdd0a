// Jurisdiction: the deadlines and retention rules of one legal regime (GDPR,
// CCPA/CPRA, or a custom one) as declared in the `jurisdictions` section of a
// policy document. This layer only declares and validates them; computing a
// due date from a receipt time belongs to the erasure workflow.
//
// Thread-safety: value types.
#ifndef CONSENTD_POLICIES_JURISDICTION_H_
#define CONSENTD_POLICIES_JURISDICTION_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace consentd::policies {

// A length of time in the unit the law uses. Calendar months follow EU
// Regulation 1182/71 (same date in the month after the day of receipt);
// business days skip weekends (holidays are the caller's business).
struct Period {
  enum class Unit {
    kCalendarDays,    // {"days": N}
    kCalendarMonths,  // {"months": N}
    kBusinessDays,    // {"business_days": N}
  };
  Unit unit = Unit::kCalendarDays;
  int32_t count = 0;

  bool operator==(const Period&) const = default;
};

// "45 days", "1 month", "10 business days".
std::string PeriodToString(const Period& p);

// The statutory regime whose limits a jurisdiction is checked against.
enum class Law {
  kGdpr,   // "gdpr": respond in 1 month, extend by at most 2 more
  kCcpa,   // "ccpa": 45 days + 45; acknowledge in 10 business days;
           //          opt-out of sale in 15; keep records 24 months
  kOther,  // "other": only sanity checks
};
std::string_view LawName(Law l);
std::optional<Law> ParseLaw(std::string_view name);

struct Extension {
  Period period;
  // True when the subject must be told of the extension, with reasons,
  // before the first deadline passes (GDPR Art. 12(3), CCPA §1798.130).
  bool notify_before_first_deadline = true;
};

struct Jurisdiction {
  std::string id;  // "gdpr", "ccpa", or a custom stable key
  std::string description;
  Law law = Law::kOther;  // from `based_on`, else from the id
  Period response;        // deadline to act on a request
  std::optional<Extension> extension;  // at most one
  std::optional<Period> acknowledge;         // business days (CCPA: 10)
  std::optional<Period> opt_out_of_sale;     // business days (CCPA: 15)
  std::optional<Period> record_retention;    // months or days (CCPA: >= 24 months)
  std::string defined_in;
};

}  // namespace consentd::policies

#endif  // CONSENTD_POLICIES_JURISDICTION_H_
