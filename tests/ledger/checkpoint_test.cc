// Tests of ledger/checkpoint.h: the c2sp.org/tlog-checkpoint body.
#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include "ledger/checkpoint.h"
#include "src/base/bytes.h"
#include "src/base/sha256.h"

namespace consentd::ledger {
namespace {

const std::string kRootB64 = "NmQuc8JUCrEh46a/lUWwokmCzYMOsT080Z3jzmwCHsE=";

Hash AbcRoot() {
  std::string raw = Base64Decode(kRootB64).value();
  Hash h;
  for (size_t i = 0; i < 32; ++i) h[i] = static_cast<uint8_t>(raw[i]);
  return h;
}

TEST_CASE("A checkpoint body is origin, decimal size and base64 root, one per line", "[checkpoint]") {
  Checkpoint c{"example.com/log", 3, AbcRoot(), {}};
  CHECK(c.Body() == "example.com/log\n3\n" + kRootB64 + "\n");
  Checkpoint empty{"example.com/log", 0, Sha256Of(std::string_view()), {}};
  CHECK(empty.Body() == "example.com/log\n0\n47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=\n");
  Checkpoint big{"o", UINT64_MAX, AbcRoot(), {}};
  CHECK(big.Body() == "o\n18446744073709551615\n" + kRootB64 + "\n");
}

TEST_CASE("A checkpoint body round trips, extension lines included", "[checkpoint]") {
  Checkpoint c{"example.com/log", 1234567, AbcRoot(), {"ext one", "ext two"}};
  std::string body = c.Body();
  CHECK(body == "example.com/log\n1234567\n" + kRootB64 + "\next one\next two\n");
  Result<Checkpoint> parsed = ParseCheckpointBody(body);
  REQUIRE(parsed.ok());
  CHECK(parsed->origin == "example.com/log");
  CHECK(parsed->size == 1234567);
  CHECK(parsed->root == AbcRoot());
  CHECK(parsed->extensions == std::vector<std::string>{"ext one", "ext two"});
  CHECK(parsed->Body() == body);
}

TEST_CASE("Checkpoint sizes parse as strict decimal", "[checkpoint]") {
  auto body = [](std::string size) { return "example.com/log\n" + size + "\n" + kRootB64 + "\n"; };
  Result<Checkpoint> zero = ParseCheckpointBody(body("0"));
  REQUIRE(zero.ok());
  CHECK(zero->size == 0);
  Result<Checkpoint> max = ParseCheckpointBody(body("18446744073709551615"));
  REQUIRE(max.ok());
  CHECK(max->size == UINT64_MAX);

  for (const char* bad : {"00", "01", "007", "18446744073709551616", "99999999999999999999",
                          "100000000000000000000", "-1", "+1", "1.0", "1e3", "0x10", " 1", "1 ", "١"}) {
    CAPTURE(bad);
    CHECK_FALSE(ParseCheckpointBody(body(bad)).ok());
  }
}

TEST_CASE("Checkpoint roots must be canonical base64 of exactly 32 bytes", "[checkpoint]") {
  auto body = [](std::string root) { return "example.com/log\n3\n" + root + "\n"; };
  CHECK(ParseCheckpointBody(body(kRootB64)).ok());
  std::string non_canonical = kRootB64;
  non_canonical[42] = 'F';  // "E=" -> "F=": sets a padding bit
  std::vector<std::string> bad = {
      Base64Encode(AsBytes(std::string(31, 'r'))),  // short root
      Base64Encode(AsBytes(std::string(33, 'r'))),  // long root
      non_canonical,
      kRootB64.substr(0, 43),                       // missing padding
      "NmQuc8JUCrEh46a_lUWwokmCzYMOsT080Z3jzmwCHsE=",  // URL alphabet
      HexEncode(AsBytes(AbcRoot())),                // hex instead of base64
  };
  for (const std::string& root : bad) {
    CAPTURE(root);
    CHECK_FALSE(ParseCheckpointBody(body(root)).ok());
  }
}

TEST_CASE("Checkpoint bodies with missing, empty or unterminated lines are rejected", "[checkpoint]") {
  std::vector<std::string> bad = {
      "",
      "\n",
      "example.com/log\n",
      "example.com/log\n3\n",                                  // no root line
      "example.com/log\n3\n" + kRootB64,                       // no final newline
      "\n3\n" + kRootB64 + "\n",                               // empty origin
      "example.com/log\n\n" + kRootB64 + "\n",                 // empty size
      "example.com/log\n3\n\n",                                // empty root
      "example.com/log\n3\n" + kRootB64 + "\n\n",              // empty extension line
      "example.com/log\n3\n" + kRootB64 + "\next\n\n",         // empty line after an extension
      "example.com/log\n3\n" + kRootB64 + "\n\next\n",         // empty line before an extension
  };
  for (const std::string& b : bad) {
    CAPTURE(b);
    CHECK_FALSE(ParseCheckpointBody(b).ok());
  }
}

}  // namespace
}  // namespace consentd::ledger
