// Phone number normalization to E.164 ("+4420794600958") through
// libphonenumber, so that every way of writing one number has one form.
//
// Accepted: international numbers ("+44 20 7946 0958", "0044 ..."), and
// national numbers ("020 7946 0958") when a default region is given.
// Rejected with a reason: numbers that are not valid for their region per
// libphonenumber's metadata (not merely "possible"), numbers with letters
// (vanity numbers are ambiguous), numbers with extensions (E.164 cannot hold
// them, and dropping them could join two people), unknown regions.
// Error messages never contain the number.
//
// Thread-safety: thread-safe (libphonenumber's PhoneNumberUtil is).
#ifndef CONSENTD_IDENTITY_PHONE_H_
#define CONSENTD_IDENTITY_PHONE_H_

#include <string>
#include <string_view>

#include "src/base/result.h"

namespace consentd::identity {

// `default_region`: ISO 3166-1 alpha-2 ("US", "GB"), or empty when numbers
// without a country code must be rejected.
Result<std::string> NormalizePhone(std::string_view number, std::string_view default_region);

}  // namespace consentd::identity

#endif  // CONSENTD_IDENTITY_PHONE_H_
