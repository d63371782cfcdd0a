// The body of POST /v1/consents/check (docs/api.md):
//   {"purpose":"...", "jurisdiction":"..."?, "identifiers":[{"kind","value","qualifier"?}, ...]}
// decoded into a CheckRequest.
//
// Two decoders with one contract. The generic one parses the body into a
// JSON document and reads it with BodyReader/DecodeIdentifier, like every
// other route. The fast one scans the body once and builds the identifiers
// directly; it accepts only plain bodies (printable ASCII strings without
// escapes, each member at most once, every limit and identifier kind
// respected) and answers "not handled" for anything else, which then goes
// through the generic one. So both give the same request for every body
// the fast one handles, and every problem comes from the generic one. Why:
// for 10,000 identifiers the document cost about as much CPU as a tenth of
// the lookups (parse, walk, destroy), the scan a fifth of that.
//
// Thread-safety: pure functions.
#ifndef CONSENTD_API_CHECK_REQUEST_H_
#define CONSENTD_API_CHECK_REQUEST_H_

#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "src/domain/identifier_kind.h"
#include "src/http/problem.h"

namespace consentd::api {

struct CheckRequest {
  std::string purpose;
  std::string jurisdiction;  // empty when absent or null
  std::vector<domain::Identifier> identifiers;
};

// Decodes `body` with at most `max_identifiers` identifiers; `known_purpose`
// tells whether the policy has a purpose. On failure returns the problem to
// send, checked in this order: the body is JSON and an object; purpose
// (string of at most 64 bytes, required), jurisdiction (string of at most
// 64, optional), identifiers (array, required, at most max_identifiers);
// no other member; the purpose is known; then each identifier in order
// ("/identifiers/<i>": an object; kind known, value at most 512 bytes,
// qualifier at most 256, no other member). Values are never echoed.
std::optional<http::Problem> DecodeCheckRequest(std::string_view body, size_t max_identifiers,
                                                const std::function<bool(std::string_view)>& known_purpose,
                                                CheckRequest* out);

// The two decoders, for tests. The generic one has DecodeCheckRequest's
// contract. The fast one returns true with *out filled when it handled the
// body (then the generic one would give the same *out and no problem up to
// the purpose check), false when it did not (*out is then unspecified).
std::optional<http::Problem> DecodeCheckRequestGeneric(std::string_view body, size_t max_identifiers,
                                                       const std::function<bool(std::string_view)>& known_purpose,
                                                       CheckRequest* out);
bool DecodeCheckRequestFast(std::string_view body, size_t max_identifiers, CheckRequest* out);

}  // namespace consentd::api

#endif  // CONSENTD_API_CHECK_REQUEST_H_
