// Validation of a system's base_url. A base URL is "https://host[:port][/path]"
// with no user info (that would be an inline credential), no query and no
// fragment. Plain "http" is accepted only for loopback hosts (localhost,
// 127.0.0.0/8, [::1]), where the test emulators run.
//
// Thread-safety: pure functions.
#ifndef CONSENTD_POLICIES_BASE_URL_H_
#define CONSENTD_POLICIES_BASE_URL_H_

#include <string>
#include <string_view>

namespace consentd::policies {

// Returns "" when `url` is acceptable, else the problem.
std::string BaseUrlProblem(std::string_view url);

// `url` without trailing '/' characters. REQUIRES: BaseUrlProblem(url) empty.
std::string NormalizeBaseUrl(std::string_view url);

}  // namespace consentd::policies

#endif  // CONSENTD_POLICIES_BASE_URL_H_
