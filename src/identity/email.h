// Email address normalization: the one canonical text form of an address,
// so that equal addresses get equal blind indexes.
//
//   1. Trim ASCII whitespace (space, tab, CR, LF, FF, VT) at both ends.
//   2. Require valid UTF-8; Unicode NFC.
//   3. Lower-case the whole address (Unicode full case mapping, root locale),
//      including the local part. RFC 5321 lets a server treat local parts
//      case-sensitively; no mainstream provider does, and treating
//      Alice@x and alice@x as two people would be the worse error.
//   4. Check the syntax strictly (RFC 5321/5322 dot-atom, RFC 6531 UTF-8,
//      IDNA2008/UTS 46 domains) and reject anything else with a reason.
//   5. Store the domain in its Unicode form (U-labels): "x@xn--bcher-kva.de"
//      and "x@bücher.de" are one address.
//
// Not accepted (rejected with a reason): quoted local parts, comments,
// IP-literal domains, dotless domains, all-numeric top-level labels.
// Error messages never contain the address.
//
// Thread-safety: thread-safe.
#ifndef CONSENTD_IDENTITY_EMAIL_H_
#define CONSENTD_IDENTITY_EMAIL_H_

#include <optional>
#include <string>
#include <string_view>

#include "src/base/result.h"

namespace consentd::identity {

// The canonical form of `address`, or kInvalidArgument naming the rule that
// failed (e.g. "email: domain has no dot").
// Printable-ASCII addresses with plain LDH domains skip ICU (the common
// case; a bulk check normalizes 10,000); everything else goes through it.
Result<std::string> NormalizeEmail(std::string_view address);

// NormalizeEmail with every address going through ICU, the reference the
// ASCII fast path is tested against. Same results, only slower.
Result<std::string> NormalizeEmailThroughIcu(std::string_view address);

// For a canonical address whose local part contains '+', the address without
// the "+tag" ("alice+news@x" -> "alice@x"); nullopt when there is no tag or
// nothing would remain before it. Used only for merge suggestions.
std::optional<std::string> EmailWithoutPlusTag(std::string_view canonical);

}  // namespace consentd::identity

#endif  // CONSENTD_IDENTITY_EMAIL_H_
