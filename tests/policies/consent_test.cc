// Tests of the consent value types in src/domain/consent.h (kept with the
// policies tests, which are their main user).
#include <catch2/catch.hpp>

#include "src/domain/consent.h"

namespace consentd::domain {
namespace {

TEST_CASE("Decisions round-trip through their stable names", "[domain][consent]") {
  CHECK(DecisionName(Decision::kGranted) == "granted");
  CHECK(DecisionName(Decision::kWithdrawn) == "withdrawn");
  CHECK(*ParseDecision("granted") == Decision::kGranted);
  CHECK(*ParseDecision("withdrawn") == Decision::kWithdrawn);
  Result<Decision> bad = ParseDecision("denied");
  REQUIRE_FALSE(bad.ok());
  CHECK(bad.status().code() == StatusCode::kInvalidArgument);
}

TEST_CASE("Consent methods round-trip through their stable names", "[domain][consent]") {
  const std::pair<ConsentMethod, const char*> names[] = {
      {ConsentMethod::kCheckoutCheckbox, "checkout_checkbox"}, {ConsentMethod::kSignupForm, "signup_form"},
      {ConsentMethod::kPreferenceCentre, "preference_centre"}, {ConsentMethod::kUnsubscribeLink, "unsubscribe_link"},
      {ConsentMethod::kSpamComplaint, "spam_complaint"},       {ConsentMethod::kDoubleOptIn, "double_opt_in"},
      {ConsentMethod::kSupportAgent, "support_agent"},         {ConsentMethod::kGpc, "gpc"},
      {ConsentMethod::kImport, "import"},                      {ConsentMethod::kApi, "api"},
      {ConsentMethod::kWebhook, "webhook"},                    {ConsentMethod::kSync, "sync"},
  };
  for (const auto& [method, name] : names) {
    INFO(name);
    CHECK(ConsentMethodName(method) == name);
    Result<ConsentMethod> parsed = ParseConsentMethod(name);
    REQUIRE(parsed.ok());
    CHECK(*parsed == method);
  }
  CHECK_FALSE(ParseConsentMethod("GPC").ok());
  CHECK_FALSE(ParseConsentMethod("").ok());
}

TEST_CASE("Only unsubscribe links, spam complaints and GPC are withdraw-only methods", "[domain][consent]") {
  CHECK(MethodIsWithdrawOnly(ConsentMethod::kUnsubscribeLink));
  CHECK(MethodIsWithdrawOnly(ConsentMethod::kSpamComplaint));
  CHECK(MethodIsWithdrawOnly(ConsentMethod::kGpc));
  CHECK_FALSE(MethodIsWithdrawOnly(ConsentMethod::kPreferenceCentre));
  CHECK_FALSE(MethodIsWithdrawOnly(ConsentMethod::kImport));
}

}  // namespace
}  // namespace consentd::domain
