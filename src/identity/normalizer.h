// Normalize: the single entry point that turns an Identifier received from
// outside into its canonical NormalizedIdentifier (see email.h, phone.h and
// external_id.h for the rules of each kind). An invalid identifier is
// rejected as a whole; nothing is ever stored half-normalized.
//
// Thread-safety: thread-safe.
#ifndef CONSENTD_IDENTITY_NORMALIZER_H_
#define CONSENTD_IDENTITY_NORMALIZER_H_

#include "src/base/result.h"
#include "src/domain/identifier_kind.h"
#include "src/domain/identity_rules.h"

namespace consentd::identity {

// kInvalidArgument with a message "<kind>: <reason>" that never contains the
// value. `rules.default_phone_region` applies to phone numbers.
Result<domain::NormalizedIdentifier> Normalize(const domain::Identifier& identifier,
                                               const domain::IdentityRules& rules);

}  // namespace consentd::identity

#endif  // CONSENTD_IDENTITY_NORMALIZER_H_
