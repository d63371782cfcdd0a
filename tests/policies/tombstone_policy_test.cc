// Tests of the `tombstones` section (policies/tombstone_policy.h): defaults
// without it, every field parsed, and each malformed field reported with the
// file, its JSON pointer and the problem.
#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include "policies/loader.h"

namespace consentd::policies {
namespace {

using domain::ConsentMethod;

std::string Doc(const std::string& tombstones) {
  std::string d = R"({"format": "consentd.policy/v1",
    "purposes": {"email_marketing": {"channel": "email", "legal_basis": "consent", "default": "denied"}})";
  if (!tombstones.empty()) d += R"(, "tombstones": )" + tombstones;
  return d + "}";
}

LoadResult Parse(const std::string& tombstones) {
  std::vector<PolicyDocument> docs = {{"policy.json", Doc(tombstones)}};
  return ParsePolicyDocuments(docs);
}

// The single error of `tombstones`, as "FILE: POINTER: MESSAGE".
std::string OnlyError(const std::string& tombstones) {
  LoadResult r = Parse(tombstones);
  REQUIRE(r.errors.size() == 1);
  return r.errors[0].ToString();
}

TEST_CASE("Without a tombstones section the policy keeps re-sending and first-party lifting", "[policies][tombstones]") {
  LoadResult r = Parse("");
  REQUIRE(r.ok());
  const TombstonePolicy& t = r.policy.tombstones;
  CHECK(t.resend_erasure_on_recreation);
  CHECK(t.resend_min_interval_ms == 3'600'000);
  CHECK(t.lift.allowed);
  CHECK(t.lift.require_evidence);
  CHECK(t.lift.min_days_after_erasure == 0);
  CHECK(t.lift.AllowsSource(ConsentMethod::kSignupForm));
  CHECK(t.lift.AllowsSource(ConsentMethod::kCheckoutCheckbox));
  CHECK(t.lift.AllowsSource(ConsentMethod::kPreferenceCentre));
  CHECK(t.lift.AllowsSource(ConsentMethod::kDoubleOptIn));
  CHECK_FALSE(t.lift.AllowsSource(ConsentMethod::kSync));
  CHECK_FALSE(t.lift.AllowsSource(ConsentMethod::kImport));
  CHECK(t.defined_in.empty());
}

TEST_CASE("Every field of the tombstones section is read", "[policies][tombstones]") {
  LoadResult r = Parse(R"({"resend_erasure_on_recreation": false, "resend_min_interval": {"minutes": 15},
      "lift": {"allowed": true, "require_evidence": false, "allowed_sources": ["double_opt_in", "support_agent"],
               "min_days_after_erasure": 30}})");
  INFO(FormatErrors(r.errors));
  REQUIRE(r.ok());
  const TombstonePolicy& t = r.policy.tombstones;
  CHECK_FALSE(t.resend_erasure_on_recreation);
  CHECK(t.resend_min_interval_ms == 15 * 60'000);
  CHECK_FALSE(t.lift.require_evidence);
  CHECK(t.lift.allowed_sources == std::vector<ConsentMethod>{ConsentMethod::kDoubleOptIn, ConsentMethod::kSupportAgent});
  CHECK(t.lift.min_days_after_erasure == 30);
  CHECK(t.defined_in == "policy.json");

  for (const auto& [text, ms] : std::vector<std::pair<std::string, int64_t>>{
           {R"({"seconds": 90})", 90'000}, {R"({"hours": 2})", 7'200'000}, {R"({"days": 1})", 86'400'000}}) {
    LoadResult x = Parse(R"({"resend_min_interval": )" + text + "}");
    INFO(text);
    REQUIRE(x.ok());
    CHECK(x.policy.tombstones.resend_min_interval_ms == ms);
  }
  LoadResult never = Parse(R"({"lift": {"allowed": false}})");
  REQUIRE(never.ok());
  CHECK_FALSE(never.policy.tombstones.lift.allowed);
}

TEST_CASE("Malformed tombstones fields are reported with the file, the pointer and the problem",
          "[policies][tombstones]") {
  CHECK(OnlyError(R"([])") == "policy.json: /tombstones: must be an object, not an array");
  CHECK(OnlyError(R"({"resend_erasure_on_recreaton": true})") ==
        "policy.json: /tombstones/resend_erasure_on_recreaton: unknown field \"resend_erasure_on_recreaton\" "
        "(did you mean \"resend_erasure_on_recreation\"?)");
  CHECK(OnlyError(R"({"resend_erasure_on_recreation": "yes"})") ==
        "policy.json: /tombstones/resend_erasure_on_recreation: must be true or false, not a string");
  CHECK(OnlyError(R"({"resend_min_interval": 3600})") ==
        "policy.json: /tombstones/resend_min_interval: must be an object, not a number");
  CHECK(OnlyError(R"({"resend_min_interval": {"hours": 1, "minutes": 5}})") ==
        "policy.json: /tombstones/resend_min_interval: give exactly one of seconds, minutes, hours, days, such as "
        "{\"hours\": 1}");
  CHECK(OnlyError(R"({"resend_min_interval": {"seconds": 5}})") ==
        "policy.json: /tombstones/resend_min_interval: must be at least 1 minute (a shorter interval lets a sync loop "
        "cause a storm of erasures)");
  CHECK(OnlyError(R"({"resend_min_interval": {"days": 31}})") ==
        "policy.json: /tombstones/resend_min_interval/days: must be between 1 and 30, not 31");
  CHECK(OnlyError(R"({"resend_min_interval": {"weeks": 1}})") ==
        "policy.json: /tombstones/resend_min_interval/weeks: unknown field \"weeks\" (expected one of: seconds, "
        "minutes, hours, days)");
  CHECK(OnlyError(R"({"lift": {"allowed": 1}})") == "policy.json: /tombstones/lift/allowed: must be true or false, not a number");
  CHECK(OnlyError(R"({"lift": {"require_evidence": null}})") ==
        "policy.json: /tombstones/lift/require_evidence: must be true or false, not null");
  CHECK(OnlyError(R"({"lift": {"min_days_after_erasure": -1}})") ==
        "policy.json: /tombstones/lift/min_days_after_erasure: must be between 0 and 3650, not -1");
  CHECK(OnlyError(R"({"lift": {"min_days_after_erasure": 99999999999999999999}})") ==
        "policy.json: /tombstones/lift/min_days_after_erasure: must be an integer, not a number");
  CHECK(OnlyError(R"({"lift": {"allowed_sources": "signup_form"}})") ==
        "policy.json: /tombstones/lift/allowed_sources: must be an array of source methods, not a string");
  CHECK(OnlyError(R"({"lift": {"allowed_sources": []}})") ==
        "policy.json: /tombstones/lift/allowed_sources: must name at least one source method (set \"allowed\": false "
        "to forbid lifting)");
  CHECK(OnlyError(R"({"lift": {"allowed_sources": ["signup_form", "carrier_pigeon"]}})") ==
        "policy.json: /tombstones/lift/allowed_sources/1: unknown source method \"carrier_pigeon\" (expected "
        "signup_form, checkout_checkbox, preference_centre, double_opt_in, support_agent, import, api, webhook or "
        "sync)");
  CHECK(OnlyError(R"({"lift": {"allowed_sources": ["unsubscribe_link"]}})") ==
        "policy.json: /tombstones/lift/allowed_sources/0: \"unsubscribe_link\" only ever withdraws consent; it cannot "
        "lift a tombstone");
  CHECK(OnlyError(R"({"lift": {"allowed_sources": ["api", "api"]}})") ==
        "policy.json: /tombstones/lift/allowed_sources/1: \"api\" is listed twice");
  CHECK(OnlyError(R"({"lift": {"allowed_sources": [7]}})") ==
        "policy.json: /tombstones/lift/allowed_sources/0: must be a string, not a number");
  CHECK(OnlyError(R"({"lift": {"alowed": false}})") ==
        "policy.json: /tombstones/lift/alowed: unknown field \"alowed\" (did you mean \"allowed\"?)");
}

TEST_CASE("A second document declaring tombstones is refused, naming the first", "[policies][tombstones]") {
  std::vector<PolicyDocument> docs = {{"a.json", Doc(R"({"lift": {"allowed": false}})")},
                                      {"b.json", R"({"format": "consentd.policy/v1", "tombstones": {}})"}};
  LoadResult r = ParsePolicyDocuments(docs);
  REQUIRE(r.errors.size() == 1);
  CHECK(r.errors[0].ToString() == "b.json: /tombstones: the tombstones section is already defined in a.json");
  CHECK_FALSE(r.policy.tombstones.lift.allowed);  // the first one holds
}

}  // namespace
}  // namespace consentd::policies
