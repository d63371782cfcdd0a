// ISO 3166-1 alpha-2 country codes (the officially assigned ones), used to
// validate the default phone region of the identity rules.
//
// Thread-safety: a pure function.
#ifndef CONSENTD_POLICIES_ISO3166_H_
#define CONSENTD_POLICIES_ISO3166_H_

#include <string_view>

namespace consentd::policies {

// True for an officially assigned, upper-case alpha-2 code such as "US".
bool IsIso3166Alpha2(std::string_view code);

}  // namespace consentd::policies

#endif  // CONSENTD_POLICIES_ISO3166_H_
