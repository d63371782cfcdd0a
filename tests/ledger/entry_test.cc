// Tests of ledger/entry.h: the canonical entry encoding of
// docs/ledger-format.md §2.
#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include "ledger/entry.h"
#include "ledger/format.h"
#include "ledger/merkle.h"
#include "src/base/bytes.h"
#include "src/base/time_format.h"
#include "tests/ledger/test_util.h"

namespace consentd::ledger {
namespace {

using consentd::testing::HashFromHex;
using consentd::testing::HexOf;

constexpr int64_t kTime = 1735787045678;  // 2025-01-02T03:04:05.678Z
const std::string kZeroHex(64, '0');

std::string Valid() { return EncodeEntry(7, kTime, Hash{}, "consent.recorded", R"({"a":1})"); }

TEST_CASE("EncodeEntry writes the fixed member order of docs/ledger-format.md", "[entry]") {
  std::string payload = R"({"sid":"7c1e4f0a9b3d5e2f8a6c4b1d0e9f3a27","purpose":"newsletter","state":"opt_in"})";
  std::string e = EncodeEntry(0, *ParseTimestampMillis("2025-01-02T03:04:05.678Z"), Hash{}, "consent.recorded",
                              payload);
  CHECK(e == R"({"v":1,"seq":0,"time":"2025-01-02T03:04:05.678Z","prev":")" + kZeroHex +
                 R"(","kind":"consent.recorded","payload":)" + payload + "}");
  // 143 fixed bytes plus seq, kind and payload (§2).
  CHECK(e.size() == 143 + 1 + std::string("consent.recorded").size() + payload.size());
}

TEST_CASE("The worked example entries of docs/ledger-format.md §11 chain by leaf hash", "[entry]") {
  std::string e0 = EncodeEntry(0, *ParseTimestampMillis("2025-01-02T03:04:05.678Z"), Hash{}, "consent.recorded",
                               R"({"sid":"7c1e4f0a9b3d5e2f8a6c4b1d0e9f3a27","purpose":"newsletter","state":"opt_in"})");
  CHECK(HexOf(LeafHash(AsBytes(e0))) == "6f5faa59a45d6bfb8ca9acab518176ffa555ddb7507ca803591aaa88882edbd3");
  std::string e1 = EncodeEntry(1, *ParseTimestampMillis("2025-01-02T03:04:06.012Z"), LeafHash(AsBytes(e0)),
                               "consent.withdrawn",
                               R"({"sid":"7c1e4f0a9b3d5e2f8a6c4b1d0e9f3a27","purpose":"newsletter","state":"opt_out"})");
  CHECK(HexOf(LeafHash(AsBytes(e1))) == "197988a8d3dabbb2a5c7230886b156905381394d8e027204751bffb71bac725e");
}

TEST_CASE("ParseEntry reads back every field EncodeEntry wrote", "[entry]") {
  Hash prev = HashFromHex("00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff");
  struct Row { uint64_t seq; int64_t time; std::string kind; std::string payload; };
  std::vector<Row> rows = {
      {0, 0, "a", "{}"},
      {1, kTime, "consent.recorded", R"({"a":[1,2,{"b":"}}"}]})"},
      {UINT64_MAX, 253402300799999, std::string(64, 'z'), R"({"s":"\n\r line breaks escaped"})"},
      {1000000, -62135596800000, "x_y:z-0.9", R"({ "spaced" : true })"},
      {42, kTime, "k", R"({"utf8":"été ✓"})"},
  };
  for (const Row& r : rows) {
    CAPTURE(r.seq, r.kind, r.payload);
    REQUIRE(ValidateKind(r.kind).ok());
    REQUIRE(ValidatePayload(r.payload).ok());
    std::string bytes = EncodeEntry(r.seq, r.time, prev, r.kind, r.payload);
    Result<EntryView> v = ParseEntry(bytes);
    REQUIRE(v.ok());
    CHECK(v->seq == r.seq);
    CHECK(v->time_millis == r.time);
    CHECK(v->prev == prev);
    CHECK(v->kind == r.kind);
    CHECK(v->payload == r.payload);
    CHECK(EncodeEntry(v->seq, v->time_millis, v->prev, v->kind, v->payload) == bytes);
  }
}

TEST_CASE("ValidateKind accepts 1 to 64 bytes of [a-z0-9._:-] and nothing else", "[entry]") {
  for (const std::string& ok : {std::string("a"), std::string("consent.recorded"), std::string("a-b_c:d.e"),
                                std::string("0123456789"), std::string(64, 'k')}) {
    CAPTURE(ok);
    CHECK(ValidateKind(ok).ok());
  }
  for (const std::string& bad : {std::string(""), std::string(65, 'k'), std::string("Consent"),
                                 std::string("a b"), std::string("a/b"), std::string("a\"b"),
                                 std::string("a\\b"), std::string("a\nb"), std::string("é"),
                                 std::string("a\0b", 3), std::string("a+b")}) {
    CAPTURE(bad);
    Status s = ValidateKind(bad);
    CHECK_FALSE(s.ok());
    CHECK(s.code() == StatusCode::kInvalidArgument);
  }
}

TEST_CASE("ValidatePayload accepts one JSON object on one line", "[entry]") {
  for (const std::string& ok : {std::string("{}"), std::string(R"({"a":1})"), std::string(R"({"a":{"b":[]}})"),
                                std::string(R"({"s":"line\nbreak"})"), std::string(R"({"a":1,"a":2})"),
                                std::string(R"({"s":"\u00e9"})")}) {
    CAPTURE(ok);
    CHECK(ValidatePayload(ok).ok());
  }
}

TEST_CASE("ValidatePayload rejects non-objects, invalid JSON, line breaks and invalid UTF-8", "[entry]") {
  std::vector<std::string> bad = {
      "",
      "[]",
      "1",
      R"("s")",
      "null",
      "{",
      R"({"a":})",
      R"({"a":1,})",
      R"({a:1})",
      R"({"a":1}{"b":2})",
      "{\"a\":1}\n",
      "{\n\"a\":1}",
      "{\"a\":1}\r",
      "{\"s\":\"raw\ttab\"}",
      "{\"s\":\"\xff\"}",
      "{\"s\":\"\xC0\xAF\"}",
      R"({"a":1} // comment)",
      // The entry grammar needs the payload to start with '{' and end with '}'.
      R"( {"a":1})",
      R"({"a":1} )",
      "{\"a\":1}\t",
  };
  for (const std::string& p : bad) {
    CAPTURE(p);
    Status s = ValidatePayload(p);
    CHECK_FALSE(s.ok());
    CHECK(s.code() == StatusCode::kInvalidArgument);
  }
}

TEST_CASE("Every payload ValidatePayload accepts encodes to an entry ParseEntry accepts", "[entry]") {
  // Including the worst case: 20-digit seq, 64-byte kind, largest payload.
  std::string kind(kMaxKindBytes, 'k');
  size_t fixed = kEntryPrefix.size() + 20 + kTimeKey.size() + kTimeTextBytes + kPrevKey.size() + 64 +
                 kKindKey.size() + kMaxKindBytes + kPayloadKey.size() + kEntrySuffix.size();
  REQUIRE(fixed == 227);
  size_t largest = kMaxEntryBytes - fixed;  // 65,308
  auto payload_of = [](size_t n) { return "{\"s\":\"" + std::string(n - 8, 'x') + "\"}"; };
  REQUIRE(payload_of(largest).size() == largest);

  REQUIRE(ValidatePayload(payload_of(largest)).ok());
  std::string e = EncodeEntry(UINT64_MAX, kTime, Hash{}, kind, payload_of(largest));
  CHECK(e.size() == kMaxEntryBytes);
  CHECK(ParseEntry(e).ok());

  for (size_t extra = 1; extra <= 4; ++extra) {
    CAPTURE(extra);
    std::string p = payload_of(largest + extra);
    if (ValidatePayload(p).ok()) {
      CHECK(ParseEntry(EncodeEntry(UINT64_MAX, kTime, Hash{}, kind, p)).ok());
    }
  }
  CHECK_FALSE(ValidatePayload(payload_of(largest + 1)).ok());
  CHECK_FALSE(ValidatePayload(payload_of(70000)).ok());
}

TEST_CASE("ParseEntry rejects bytes that are not a canonical entry", "[entry]") {
  std::string good = Valid();
  REQUIRE(ParseEntry(good).ok());
  auto replace = [&](std::string from, std::string to) {
    std::string e = good;
    size_t at = e.find(from);
    REQUIRE(at != std::string::npos);
    return e.replace(at, from.size(), to);
  };
  std::string upper_prev = EncodeEntry(7, kTime, HashFromHex(std::string(64, 'a')), "k", "{}");
  for (char& c : upper_prev) {
    if (c == 'a') c = 'A';
  }
  struct Case { const char* why; std::string bytes; };
  std::vector<Case> cases = {
      {"empty", ""},
      {"leading zero seq", replace("\"seq\":7", "\"seq\":07")},
      {"negative seq", replace("\"seq\":7", "\"seq\":-7")},
      {"missing seq", replace("\"seq\":7", "\"seq\":")},
      {"seq overflow", replace("\"seq\":7", "\"seq\":18446744073709551616")},
      {"quoted seq", replace("\"seq\":7", "\"seq\":\"7\"")},
      {"version 2", replace("\"v\":1", "\"v\":2")},
      {"space after colon", replace("\"seq\":7", "\"seq\": 7")},
      {"bad time (month 13)", replace("2025-01-02", "2025-13-02")},
      {"bad time (Feb 30)", replace("2025-01-02", "2025-02-30")},
      {"bad time (offset)", replace("05.678Z", "05.678+")},
      {"bad time (no millis)", replace("05.678Z\"", "05Z\"")},
      {"bad time (leap second)", replace("03:04:05", "03:04:60")},
      {"upper-case hex prev", upper_prev},
      {"short prev", replace(kZeroHex, kZeroHex.substr(1))},
      {"non-hex prev", replace(kZeroHex, "g" + kZeroHex.substr(1))},
      {"empty kind", replace("consent.recorded", "")},
      {"upper-case kind", replace("consent.recorded", "Consent.recorded")},
      {"65-byte kind", replace("consent.recorded", std::string(65, 'k'))},
      {"members reordered", replace(",\"kind\":\"consent.recorded\"", "")},
      {"missing payload", replace(R"("payload":{"a":1}})", R"("payload":})")},
      {"missing payload member", replace(R"(,"payload":{"a":1})", "")},
      {"payload not an object", replace(R"({"a":1}})", "[1]}")},
      {"trailing garbage", good + "x"},
      {"trailing newline", good + "\n"},
      {"trailing space", good + " "},
      {"missing closing brace", good.substr(0, good.size() - 1)},
      {"newline in payload", replace(R"({"a":1})", "{\"a\":\n1}")},
  };
  for (const Case& c : cases) {
    CAPTURE(c.why, c.bytes);
    Result<EntryView> v = ParseEntry(c.bytes);
    CHECK_FALSE(v.ok());
    if (!v.ok()) CHECK(v.status().code() == StatusCode::kCorruption);
  }
}

TEST_CASE("ParseEntry rejects an entry longer than 65535 bytes", "[entry]") {
  std::string payload = "{\"s\":\"" + std::string(kMaxEntryBytes, 'x') + "\"}";
  std::string e = EncodeEntry(1, kTime, Hash{}, "k", payload);
  CHECK_FALSE(ParseEntry(e).ok());
}

TEST_CASE("EncodeEntryAt with the formatted time writes the bytes EncodeEntry writes", "[entry]") {
  Hash prev{};
  prev[0] = 0xab;
  for (int64_t t : {int64_t{0}, *ParseTimestampMillis("2025-01-02T03:04:05.678Z"), int64_t{253402300799999}}) {
    INFO(t);
    CHECK(EncodeEntryAt(42, FormatTimestampMillis(t), prev, "subject.linked", R"({"sid":"ab","kind":"email"})") ==
          EncodeEntry(42, t, prev, "subject.linked", R"({"sid":"ab","kind":"email"})"));
  }
}

}  // namespace
}  // namespace consentd::ledger
