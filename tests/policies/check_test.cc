// Tests of policies/check.h, the library side of `consentctl policy check`.
#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include "policies/check.h"
#include "tests/policies/test_util.h"

namespace consentd::policies {
namespace {

TEST_CASE("Checking a valid policy reports the counts and the version and exits 0", "[policies][check]") {
  std::vector<std::string> paths = {testing::DefaultPolicyPath()};
  CheckReport r = CheckFiles(paths);
  CHECK(r.ok());
  CHECK(r.ExitCode() == 0);
  CHECK(r.purposes == 5);
  CHECK(r.systems == 4);
  CHECK(r.jurisdictions == 2);
  std::string text = r.ToText();
  CHECK(text.rfind("policy OK: 1 file, 5 purposes, 4 systems, 2 jurisdictions\nversion sha256:", 0) == 0);
  CHECK(text.find(r.version) != std::string::npos);
}

TEST_CASE("Checking an invalid policy lists every error with file and pointer and exits 1", "[policies][check]") {
  std::string bad = testing::Fixture("invalid/multiple_errors.json");
  std::string dup_a = testing::Fixture("invalid/dup_a.json");
  std::string dup_b = testing::Fixture("invalid/dup_b.json");
  std::vector<std::string> paths = {bad};
  CheckReport r = CheckFiles(paths);
  CHECK_FALSE(r.ok());
  CHECK(r.ExitCode() == 1);
  std::string text = r.ToText();
  INFO(text);
  CHECK(text.find(bad + ": /systems/shop/base_url: invalid base_url \"http://example.com\": must use https") !=
        std::string::npos);
  CHECK(text.find("5 errors in 1 file\n") != std::string::npos);

  std::vector<std::string> two = {dup_a, dup_b};
  CHECK(CheckFiles(two).ToText().find("2 errors in 1 file\n") != std::string::npos);
}

TEST_CASE("Errors print as FILE: POINTER: MESSAGE, or FILE:LINE:COLUMN for malformed JSON", "[policies][check]") {
  PolicyError e{"p.json", "/systems/a/receives/2", "unknown purpose \"x\"", 0, 0};
  CHECK(e.ToString() == "p.json: /systems/a/receives/2: unknown purpose \"x\"");
  PolicyError root{"p.json", "", "missing required field \"format\"", 0, 0};
  CHECK(root.ToString() == "p.json: (document): missing required field \"format\"");
  PolicyError syntax{"p.json", "", "malformed JSON: syntax error", 3, 14};
  CHECK(syntax.ToString() == "p.json:3:14: malformed JSON: syntax error");
}

}  // namespace
}  // namespace consentd::policies
