// Tests of policies/policy_version.h.
#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include "policies/loader.h"
#include "policies/policy_version.h"
#include "src/base/bytes.h"
#include "src/base/sha256.h"
#include "tests/policies/test_util.h"

namespace consentd::policies {
namespace {

TEST_CASE("The policy version is sha256 over each document prefixed by its 8-byte big-endian length",
          "[policies][version]") {
  std::vector<std::string> docs = {"ab", "c"};
  std::string encoded = std::string("\0\0\0\0\0\0\0\x02", 8) + "ab" + std::string("\0\0\0\0\0\0\0\x01", 8) + "c";
  CHECK(PolicyVersion(docs) == "sha256:" + HexEncode(AsBytes(Sha256Of(std::string_view(encoded)))));
  // The hash of no documents is the hash of the empty string.
  CHECK(PolicyVersion({}) == "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

TEST_CASE("The policy version is stable for the same bytes and changes with any byte", "[policies][version]") {
  std::string doc = testing::MinimalDocument();
  std::vector<PolicyDocument> a = {{"a.json", doc}};
  std::vector<PolicyDocument> renamed = {{"elsewhere/b.json", doc}};
  std::string v = ParsePolicyDocuments(a).policy.version;
  CHECK(ParsePolicyDocuments(a).policy.version == v);
  CHECK(ParsePolicyDocuments(renamed).policy.version == v);  // names are not hashed

  std::string one_space = doc;
  one_space.insert(1, " ");
  std::vector<PolicyDocument> changed = {{"a.json", one_space}};
  CHECK(ParsePolicyDocuments(changed).ok());
  CHECK(ParsePolicyDocuments(changed).policy.version != v);
}

TEST_CASE("The policy version depends on load order and on where files split", "[policies][version]") {
  std::vector<std::string> ab = {"{\"x\":1}", "{\"y\":2}"};
  std::vector<std::string> ba = {"{\"y\":2}", "{\"x\":1}"};
  std::vector<std::string> joined = {"{\"x\":1}{\"y\":2}"};
  std::vector<std::string> moved = {"{\"x\":1}{", "\"y\":2}"};
  CHECK(PolicyVersion(ab) != PolicyVersion(ba));
  CHECK(PolicyVersion(ab) != PolicyVersion(joined));
  CHECK(PolicyVersion(joined) != PolicyVersion(moved));
}

TEST_CASE("The default policy file has the version of its bytes", "[policies][version]") {
  std::vector<std::string> paths = {testing::DefaultPolicyPath()};
  LoadResult r = LoadPolicyFiles(paths);
  REQUIRE(r.ok());
  std::vector<std::string> bytes = {testing::ReadFile(paths[0])};
  CHECK(r.policy.version == PolicyVersion(bytes));
}

}  // namespace
}  // namespace consentd::policies
