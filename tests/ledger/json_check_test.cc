// IsJsonText against nlohmann::json's parser (what ValidatePayload used
// before, and what the project's readers of payloads use): the same verdict
// on hand-picked edge cases, on every short UTF-8 shape inside a string, and
// on mutations of valid payloads.
#include <catch2/catch.hpp>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <random>
#include <string>
#include <vector>

#include "ledger/entry.h"
#include "ledger/json_check.h"

namespace consentd::ledger {
namespace {

bool ReferenceAccepts(const std::string& s) {
  return !nlohmann::json::parse(s.begin(), s.end(), nullptr, /*allow_exceptions=*/false).is_discarded();
}

// INFO shows the input as hex when a check fails.
std::string Hex(const std::string& s) {
  static const char* d = "0123456789abcdef";
  std::string out;
  for (unsigned char c : s) {
    out += d[c >> 4];
    out += d[c & 15];
  }
  return out;
}

TEST_CASE("IsJsonText accepts and refuses what nlohmann::json does on hand-picked texts") {
  const std::vector<std::pair<std::string, bool>> cases = {
      {R"({"sid":"7c1e4f0a9b3d5e2f8a6c4b1d0e9f3a27","purpose":"newsletter","state":"opt_in"})", true},
      {"{}", true},
      {"[]", true},
      {" {\"a\" : [ 1 , 2.5e-3 , -0 , true , false , null , {} , [] ] } ", true},
      {R"({"a":"\" \\ \/ \b \f \n \r \t \u00e9 \uD83D\uDE00"})", true},
      {"{\"\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\":1}", true},
      {"{\"a\":1,\"a\":2}", true},  // duplicate names: RFC 8259 allows them
      {"1e308", true},
      {"123456789012345678901234567890", true},
      {"-1.5E+10", true},
      {"", false},
      {" ", false},
      {"{", false},
      {"}", false},
      {"{\"a\":1,}", false},
      {"[1,]", false},
      {"{\"a\" 1}", false},
      {"{a:1}", false},
      {"{'a':1}", false},
      {"{\"a\":01}", false},
      {"{\"a\":1.}", false},
      {"{\"a\":.5}", false},
      {"{\"a\":1e}", false},
      {"{\"a\":+1}", false},
      {"{\"a\":-}", false},
      {"{\"a\":1e999}", false},  // overflows a double
      {"{\"a\":tru}", false},
      {"{\"a\":True}", false},
      {"{\"a\":nul}", false},
      {"{\"a\":NaN}", false},
      {"{\"a\":1}{}", false},
      {"{\"a\":1} x", false},
      {R"({"a":"\x"})", false},
      {R"({"a":"\u12"})", false},
      {R"({"a":"\uD83D"})", false},        // a lone high surrogate
      {R"({"a":"\uDE00"})", false},        // a lone low surrogate
      {R"({"a":"\uD83D\u0041"})", false},  // high surrogate, then no low one
      {std::string("{\"a\":\"\x01\"}"), false},
      {std::string("{\"a\":\"\x7f\"}"), true},
      {std::string("{\"a\":\"b\0c\"}", 11), false},
      {"{\"a\":\"\xc0\xaf\"}", false},          // overlong
      {"{\"a\":\"\xe0\x80\xaf\"}", false},      // overlong
      {"{\"a\":\"\xed\xa0\x80\"}", false},      // an encoded surrogate
      {"{\"a\":\"\xf4\x90\x80\x80\"}", false},  // above U+10FFFF
      {"{\"a\":\"\xff\"}", false},
      {"{\"a\":\"\xc3\"}", false},              // truncated
      {"{\"a\":\"unterminated}", false},
  };
  for (const auto& [text, valid] : cases) {
    INFO(Hex(text));
    CHECK(IsJsonText(text) == valid);
    CHECK(ReferenceAccepts(text) == valid);
  }
  // The two differences. nlohmann::json skips a byte order mark (RFC 8259
  // lets a parser ignore one; payloads start with '{' anyway):
  CHECK(ReferenceAccepts("\xef\xbb\xbf{}"));
  CHECK_FALSE(IsJsonText("\xef\xbb\xbf{}"));
  // and it stops at a NUL byte outside a string (so the old check passed
  // "{}", NUL, anything, "}"); a NUL is valid nowhere in a JSON text.
  const std::string nul_tail("{}\0 x}", 6);
  CHECK(ReferenceAccepts(nul_tail));
  CHECK_FALSE(IsJsonText(nul_tail));
  CHECK(ValidatePayload(nul_tail).code() == StatusCode::kInvalidArgument);
}

TEST_CASE("IsJsonText agrees with nlohmann::json on every UTF-8 shape of up to four bytes in a string") {
  // Every lead byte with every second byte, the later bytes from the edges
  // of the continuation range and just outside it.
  const std::vector<int> tails = {0x20, 0x7f, 0x80, 0x8f, 0x90, 0x9f, 0xa0, 0xbf, 0xc0, 0xff};
  size_t compared = 0, mismatches = 0;
  for (int a = 0x20; a <= 0xff; ++a) {
    if (a == '"' || a == '\\') continue;
    for (int b = 0x00; b <= 0xff; ++b) {
      for (int c : tails) {
        for (int d : {-1, 0x80, 0xbf, 0xc0}) {
          std::string s = "{\"k\":\"";
          s += static_cast<char>(a);
          s += static_cast<char>(b);
          s += static_cast<char>(c);
          if (d >= 0) s += static_cast<char>(d);
          s += "\"}";
          ++compared;
          if (IsJsonText(s) != ReferenceAccepts(s)) {
            ++mismatches;
            INFO(Hex(s));
            CHECK(IsJsonText(s) == ReferenceAccepts(s));
          }
        }
      }
    }
  }
  CHECK(compared > 1000000);
  CHECK(mismatches == 0);
}

TEST_CASE("IsJsonText agrees with nlohmann::json on random mutations of valid payloads") {
  const std::vector<std::string> seeds = {
      R"({"sid":"7c1e4f0a9b3d5e2f8a6c4b1d0e9f3a27","purpose":"email_marketing","decision":"granted","occurred_at":"2024-01-01T00:00:00.000Z","source":{"system":"klaviyo","method":"import"},"n":[1,-2.5e3,0,true,false,null]})",
      R"({"a":"\u00e9\uD83D\uDE00\n\t\"\\\/","b":{"c":[[],{}],"d":-0.0E-0},"e":12345678901234567890})",
      "{\"\xc3\xa9\":\"\xe2\x82\xac\xf0\x9f\x98\x80\xed\x9f\xbf\xee\x80\x80\"}",
  };
  std::string alphabet = "{}[],:\"\\/ \t\r\nbfnrtu0123456789abcdefABCDEF.eE+-xlsD";
  for (int b : {0x00, 0x01, 0x1f, 0x7f, 0x80, 0xbf, 0xc0, 0xc2, 0xdf, 0xe0, 0xed, 0xef, 0xf0, 0xf4, 0xf5, 0xff}) {
    alphabet += static_cast<char>(b);
  }
  std::mt19937_64 rng(20261124);
  auto pick = [&](size_t n) { return static_cast<size_t>(rng() % n); };
  size_t valid = 0, mismatches = 0;
  for (int i = 0; i < 200000; ++i) {
    std::string s = seeds[pick(seeds.size())];
    const int edits = 1 + static_cast<int>(pick(3));
    for (int e = 0; e < edits && !s.empty(); ++e) {
      const size_t at = pick(s.size());
      const char c = alphabet[pick(alphabet.size())];
      switch (pick(5)) {
        case 0:
          s[at] = c;
          break;
        case 1:
          s.insert(s.begin() + static_cast<std::ptrdiff_t>(at), c);
          break;
        case 2:
          s.erase(at, 1 + pick(3));
          break;
        case 3:
          s.insert(at, s.substr(pick(s.size()), 1 + pick(8)));
          break;
        default:
          s = s.substr(0, at);
          break;
      }
    }
    const bool mine = IsJsonText(s);
    // nlohmann::json takes a NUL byte outside a string for the end of its
    // input; a NUL is valid nowhere in a JSON text.
    const bool ref = s.find('\0') == std::string::npos && ReferenceAccepts(s);
    valid += ref ? 1 : 0;
    if (mine != ref) {
      ++mismatches;
      INFO(Hex(s));
      CHECK(mine == ref);
    }
  }
  CHECK(mismatches == 0);
  CHECK(valid > 1000);  // the mutations leave some texts valid: both verdicts are exercised
}

TEST_CASE("IsJsonText reads deep nesting without recursion") {
  const std::string deep = std::string(100000, '[') + std::string(100000, ']');
  CHECK(IsJsonText(deep));
  CHECK_FALSE(IsJsonText(std::string(100000, '[') + std::string(99999, ']')));
}

TEST_CASE("ValidatePayload refuses a payload that is not one JSON object and accepts one that is") {
  CHECK(ValidatePayload(R"({"sid":"ab","purpose":"p"})").ok());
  CHECK(ValidatePayload("{\"a\":\"\xc3\xa9\"}").ok());
  CHECK(ValidatePayload("{\"a\":1}{\"b\":2}").code() == StatusCode::kInvalidArgument);
  CHECK(ValidatePayload("{\"a\":\"\xc3\"}").code() == StatusCode::kInvalidArgument);
  CHECK(ValidatePayload("{\"a\":1e999}").code() == StatusCode::kInvalidArgument);
  CHECK(ValidatePayload("[1]").code() == StatusCode::kInvalidArgument);
  CHECK(ValidatePayload(" {}").code() == StatusCode::kInvalidArgument);
  CHECK(ValidatePayload("{\"a\":\n1}").code() == StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace consentd::ledger
