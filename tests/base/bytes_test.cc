#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include "src/base/bytes.h"
#include "src/base/sha256.h"

namespace consentd {
namespace {

TEST_CASE("HexEncode writes lower-case digits, two per byte", "[bytes]") {
  CHECK(HexEncode(AsBytes("")) == "");
  CHECK(HexEncode(AsBytes(std::string("\x00\x01\xab\xff", 4))) == "0001abff");
}

TEST_CASE("HexDecode accepts both cases and round trips every byte", "[bytes]") {
  std::string all;
  for (int i = 0; i < 256; ++i) all += static_cast<char>(i);
  CHECK(HexDecode(HexEncode(AsBytes(all))).value() == all);
  CHECK(HexDecode("ABcd").value() == "\xab\xcd");
  CHECK(HexDecode("").value().empty());
}

TEST_CASE("HexDecode rejects odd lengths and non-hex characters", "[bytes]") {
  for (const char* bad : {"a", "abc", "0g", "g0", " 00", "00 ", "0x00", "-1", "zz"}) {
    CAPTURE(bad);
    Result<std::string> r = HexDecode(bad);
    CHECK_FALSE(r.ok());
    CHECK(r.status().code() == StatusCode::kInvalidArgument);
  }
  CHECK_FALSE(HexDecode(std::string("0\0", 2)).ok());
}

TEST_CASE("Base64 matches the RFC 4648 test vectors both ways", "[bytes]") {
  const std::vector<std::pair<std::string, std::string>> v = {
      {"", ""}, {"f", "Zg=="}, {"fo", "Zm8="}, {"foo", "Zm9v"},
      {"foob", "Zm9vYg=="}, {"fooba", "Zm9vYmE="}, {"foobar", "Zm9vYmFy"},
      {"\xfb\xff", "+/8="},
  };
  for (const auto& [plain, encoded] : v) {
    CAPTURE(plain);
    CHECK(Base64Encode(AsBytes(plain)) == encoded);
    Result<std::string> back = Base64Decode(encoded);
    REQUIRE(back.ok());
    CHECK(*back == plain);
  }
}

TEST_CASE("Base64 round trips every length and byte value", "[bytes]") {
  std::string data;
  for (int i = 0; i < 300; ++i) {
    CAPTURE(i);
    Result<std::string> back = Base64Decode(Base64Encode(AsBytes(data)));
    REQUIRE(back.ok());
    REQUIRE(*back == data);
    data += static_cast<char>(i * 37 + 11);
  }
}

TEST_CASE("Base64Decode rejects non-canonical padding bits, wrong padding and other alphabets", "[bytes]") {
  for (const char* bad : {
           "Zh==",      // 'f' is Zg==; h sets a bit that padding hides
           "Zm9=",      // 'fo' is Zm8=
           "Zm/=",
           "Zg",        // missing padding
           "Zg=",       // short padding
           "Zg===",     // too much padding
           "Z===",      // three padding characters
           "Zg==Zg==",  // padding in the middle
           "Z=g=",      // padding before data
           "=Zg=",
           "Zm9v\n",    // new line
           "Zm 9v",     // space
           "-_8=",      // URL-safe alphabet
           "Zm9*",
           "====",
       }) {
    CAPTURE(bad);
    Result<std::string> r = Base64Decode(bad);
    CHECK_FALSE(r.ok());
    CHECK(r.status().code() == StatusCode::kInvalidArgument);
  }
  CHECK(Base64Decode("Zg==").ok());  // the canonical form of the first case
}

TEST_CASE("Every non-canonical one- and two-byte base64 encoding is rejected", "[bytes]") {
  const std::string alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  int accepted = 0;
  for (char a : alphabet) {
    for (char b : alphabet) {
      std::string text = std::string{a, b} + "==";
      Result<std::string> r = Base64Decode(text);
      if (r.ok()) {
        ++accepted;
        CHECK(Base64Encode(AsBytes(*r)) == text);
      }
    }
  }
  CHECK(accepted == 256);  // exactly one text per byte value
}

TEST_CASE("ConstantTimeEquals compares contents and lengths", "[bytes]") {
  CHECK(ConstantTimeEquals(std::string_view(""), std::string_view("")));
  CHECK(ConstantTimeEquals(std::string_view("secret"), std::string_view("secret")));
  CHECK_FALSE(ConstantTimeEquals(std::string_view("secret"), std::string_view("secreT")));
  CHECK_FALSE(ConstantTimeEquals(std::string_view("secret"), std::string_view("secret!")));
  CHECK_FALSE(ConstantTimeEquals(std::string_view(""), std::string_view("a")));
  CHECK_FALSE(ConstantTimeEquals(std::string_view("a\0b", 3), std::string_view("a\0c", 3)));
  Hash h = Sha256Of(std::string_view("x"));
  Hash g = h;
  CHECK(ConstantTimeEquals(AsBytes(h), AsBytes(g)));
  g[31] ^= 0x80;
  CHECK_FALSE(ConstantTimeEquals(AsBytes(h), AsBytes(g)));
}

TEST_CASE("RandomBytes returns the requested number of bytes, different each time", "[bytes]") {
  CHECK(RandomBytes(0).empty());
  std::string a = RandomBytes(32);
  std::string b = RandomBytes(32);
  CHECK(a.size() == 32);
  CHECK(a != b);
}

TEST_CASE("SHA-256 matches the FIPS 180-2 vectors, one-shot and incremental", "[sha256]") {
  CHECK(HexEncode(AsBytes(Sha256Of(std::string_view("")))) ==
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  CHECK(HexEncode(AsBytes(Sha256Of(std::string_view("abc")))) ==
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  Sha256 s;
  s.Update("ab");
  s.Update("c");
  CHECK(HexEncode(AsBytes(s.Finish())) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  // 0x00 || "" is the RFC 6962 empty leaf.
  CHECK(HexEncode(AsBytes(Sha256WithPrefix(0x00, AsBytes("")))) ==
        "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d");
  Hash l = Sha256Of(std::string_view("l"));
  Hash r = Sha256Of(std::string_view("r"));
  std::string cat = std::string(1, '\x01') + std::string(AsChars(AsBytes(l))) + std::string(AsChars(AsBytes(r)));
  CHECK(Sha256Node(l, r) == Sha256Of(std::string_view(cat)));
}

}  // namespace
}  // namespace consentd
