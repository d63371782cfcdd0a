// TombstonePolicy: what the `tombstones` section of a policy document says
// about erased people (docs/policies.md "Tombstones", docs/erasure.md §4):
// whether consentd re-sends the erasure to a system that tries to re-create
// an erased person, how often at most, and which fresh opt-ins may lift a
// tombstone. The defaults are the behaviour of a policy without the section.
//
// Thread-safety: value types; ParseTombstonePolicy is a pure function.
#ifndef CONSENTD_POLICIES_TOMBSTONE_POLICY_H_
#define CONSENTD_POLICIES_TOMBSTONE_POLICY_H_

#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "policies/policy_error.h"
#include "src/domain/consent.h"

namespace consentd::policies {

// When a tombstone may be lifted (the person comes back as a new subject).
struct TombstoneLiftRules {
  bool allowed = true;           // false: tombstones are never lifted
  bool require_evidence = true;  // an evidence_ref (record or notice id) is required
  // Source methods of the opt-in that may lift; by default the first-party
  // opt-ins. Never a withdraw-only method (the parser refuses them).
  std::vector<domain::ConsentMethod> allowed_sources = {
      domain::ConsentMethod::kSignupForm, domain::ConsentMethod::kCheckoutCheckbox,
      domain::ConsentMethod::kPreferenceCentre, domain::ConsentMethod::kDoubleOptIn};
  // The opt-in must be dated at least this many whole days after the
  // erasure (0: any time after it).
  int32_t min_days_after_erasure = 0;

  bool AllowsSource(domain::ConsentMethod m) const;
};

struct TombstonePolicy {
  // A system that tries to re-create an erased person gets the erasure
  // again (that system only), at most once per resend_min_interval_ms for
  // each (tombstone, system).
  bool resend_erasure_on_recreation = true;
  int64_t resend_min_interval_ms = 3'600'000;  // 1 hour
  TombstoneLiftRules lift;
  std::string defined_in;  // the file that declared the section; "" for the defaults
};

// Parses the `tombstones` section `v` of document `file` (pointer
// "/tombstones"), appending each problem (file, JSON pointer, message) to
// *errors. Fields with errors keep their defaults. Never throws.
//
//   "tombstones": {
//     "resend_erasure_on_recreation": true,
//     "resend_min_interval": {"hours": 1},        // seconds|minutes|hours|days, >= 1 minute, <= 30 days
//     "lift": {"allowed": true, "require_evidence": true,
//              "allowed_sources": ["signup_form", "double_opt_in"], "min_days_after_erasure": 30}
//   }
TombstonePolicy ParseTombstonePolicy(const std::string& file, const nlohmann::json& v,
                                     std::vector<PolicyError>* errors);

}  // namespace consentd::policies

#endif  // CONSENTD_POLICIES_TOMBSTONE_POLICY_H_
