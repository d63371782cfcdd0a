// The default policy document (policies/default.json), compiled in so that
// `consentctl init` can write a working demo setup from any directory.
#ifndef CONSENTD_APP_DEFAULT_POLICY_H_
#define CONSENTD_APP_DEFAULT_POLICY_H_

#include <string_view>

namespace consentd::app {

std::string_view DefaultPolicyJson();

}  // namespace consentd::app

#endif  // CONSENTD_APP_DEFAULT_POLICY_H_
