// Percent-encoding (RFC 3986 §2.1) for the parts of a URL an adapter builds
// from data: an email in a path segment (HubSpot's subscriberIdString, a
// contact looked up by email) or a query value (a Salesforce SOQL query).
//
// Thread-safety: pure functions.
#ifndef CONSENTD_ADAPTERS_PERCENT_ENCODE_H_
#define CONSENTD_ADAPTERS_PERCENT_ENCODE_H_

#include <string>
#include <string_view>

namespace consentd::adapters {

// Every byte except the unreserved characters (A-Z a-z 0-9 - . _ ~) becomes
// %XX (upper-case hex), so the result is safe as a path segment and as a
// query value ("@" -> "%40", "+" -> "%2B", " " -> "%20", "/" -> "%2F").
std::string PercentEncode(std::string_view value);

// Form encoding (application/x-www-form-urlencoded) of one value: as
// PercentEncode, which every form parser accepts (it never emits '+').
inline std::string FormEncode(std::string_view value) { return PercentEncode(value); }

}  // namespace consentd::adapters

#endif  // CONSENTD_ADAPTERS_PERCENT_ENCODE_H_
