// Robustness of policies/loader.h against damaged input: every corruption
// of a valid document ends in a policy or in errors, never in a crash or an
// exception (run under ASan/UBSan in CI).
#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include "policies/loader.h"
#include "tests/policies/test_util.h"

namespace consentd::policies {
namespace {

TEST_CASE("Corrupting, cutting or deleting any byte of the default policy never crashes or throws",
          "[policies][robustness]") {
  const std::string original = testing::ReadFile(testing::DefaultPolicyPath());
  REQUIRE(original.size() > 1000);
  size_t rejected = 0, runs = 0;
  const char replacements[] = {'\0', '"', '{', ']', '9', 'x', '\xff', '/', '~'};
  for (size_t i = 0; i < original.size(); i += 3) {
    std::vector<std::string> variants;
    for (char c : replacements) {
      std::string s = original;
      s[i] = c;
      variants.push_back(s);
    }
    variants.push_back(original.substr(0, i));                            // truncated
    variants.push_back(original.substr(0, i) + original.substr(i + 1));  // one byte deleted
    for (const std::string& v : variants) {
      std::vector<PolicyDocument> docs = {{"fuzz.json", v}};
      LoadResult r;
      REQUIRE_NOTHROW(r = ParsePolicyDocuments(docs));
      ++runs;
      if (!r.ok()) {
        ++rejected;
        for (const PolicyError& e : r.errors) REQUIRE_FALSE(e.message.empty());
      }
    }
  }
  CHECK(runs > 5000);
  CHECK(rejected > runs / 2);
}

TEST_CASE("Values of every JSON type in every field are rejected with a message, not an exception",
          "[policies][robustness]") {
  const std::vector<std::string> values = {"null", "true", "-1", "18446744073709551615", "1e308", "2.5", "\"\"",
                                           "\"x\"", "[]", "[1,\"a\",null]", "{}", "{\"a\":{}}"};
  const std::vector<std::string> templates = {
      R"({"format": "consentd.policy/v1", "purposes": {"p": {"channel": "email", "legal_basis": "consent", "default": "denied", "FIELD": VALUE}}})",
      R"({"format": "consentd.policy/v1", "purposes": {"p": {"channel": "email", "legal_basis": "consent", "default": "denied"}},
          "systems": {"s": {"kind": "mailchimp", "credentials": {"api_key": "k/key"}, "receives": ["p"], "options": {"list_id": "a", "data_center": "us1"}, "FIELD": VALUE}}})",
      R"({"format": "consentd.policy/v1", "purposes": {"p": {"channel": "email", "legal_basis": "consent", "default": "denied"}},
          "systems": {"s": {"kind": "salesforce", "base_url": "https://x.example.com", "credentials": {"access_token": "k/t"}, "receives": ["p"], "options": {"fields": {"p": {"name": "F"}}, "FIELD": VALUE}}}})",
      R"({"format": "consentd.policy/v1", "purposes": {"p": {"channel": "email", "legal_basis": "consent", "default": "denied"}}, "identity": {"FIELD": VALUE}})",
      R"({"format": "consentd.policy/v1", "purposes": {"p": {"channel": "email", "legal_basis": "consent", "default": "denied"}}, "jurisdictions": {"ccpa": {"response": {"days": 45}, "FIELD": VALUE}}})",
  };
  const std::vector<std::string> fields = {"channel", "legal_basis", "default", "default_by_jurisdiction", "tcf_purposes",
                                           "gcm", "kind", "base_url", "api_version", "credentials", "receives",
                                           "may_grant", "may_withdraw", "rank", "rate_limit", "concurrency", "options",
                                           "object", "fields", "consent_status_values", "strong_kinds", "auto_merge",
                                           "default_phone_region", "extension", "acknowledge", "opt_out_of_sale",
                                           "record_retention", "based_on", "description"};
  for (const std::string& t : templates) {
    for (const std::string& field : fields) {
      for (const std::string& value : values) {
        std::string doc = t;
        doc.replace(doc.find("FIELD"), 5, field);
        doc.replace(doc.find("VALUE"), 5, value);
        LoadResult r;
        REQUIRE_NOTHROW(r = testing::ParseOne(doc));
        for (const PolicyError& e : r.errors) {
          INFO(doc);
          REQUIRE_FALSE(e.message.empty());
          REQUIRE(e.message.find("internal error") == std::string::npos);
        }
      }
    }
  }
}

}  // namespace
}  // namespace consentd::policies
