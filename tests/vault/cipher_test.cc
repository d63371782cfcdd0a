// The vault's AEAD: round trips, and clear failures for a wrong key, a
// tampered ciphertext, swapped associated data (another subject or purpose)
// and truncation.
#include <catch2/catch.hpp>

#include "src/vault/cipher.h"

namespace consentd::vault {
namespace {

using domain::Sid;

TEST_CASE("Sealed values open with the same key, subject and purpose", "[vault][cipher]") {
  DataKey key = DataKey::Generate();
  Sid sid = Sid::Random();
  std::string sealed = Seal(key.bytes, sid, "identifier:email:", "ada@example.com");
  CHECK(sealed.size() == kNonceSize + 15 + kTagSize);
  CHECK(sealed.find("ada@example.com") == std::string::npos);
  Result<std::string> opened = Open(key.bytes, sid, "identifier:email:", sealed);
  REQUIRE(opened.ok());
  CHECK(*opened == "ada@example.com");
  // Fresh nonces: sealing twice gives different ciphertexts and commitments.
  std::string again = Seal(key.bytes, sid, "identifier:email:", "ada@example.com");
  CHECK(again != sealed);
  CHECK(Commitment(again) != Commitment(sealed));
  CHECK(Commitment(sealed) == Sha256Of(sealed));
}

TEST_CASE("Opening fails clearly with a wrong key, tampered bytes or swapped associated data", "[vault][cipher]") {
  DataKey key = DataKey::Generate();
  Sid sid = Sid::Random();
  std::string sealed = Seal(key.bytes, sid, "record:consent.ip", "203.0.113.9");

  auto expect_auth_failure = [&](const Result<std::string>& r) {
    REQUIRE_FALSE(r.ok());
    CHECK(r.status().code() == StatusCode::kCorruption);
    CHECK_THAT(r.status().message(), Catch::Contains("authentication failed"));
    CHECK_THAT(r.status().message(), Catch::Contains(sid.ToHex()));
    CHECK(r.status().message().find("203.0.113.9") == std::string::npos);
  };
  SECTION("wrong key") { expect_auth_failure(Open(DataKey::Generate().bytes, sid, "record:consent.ip", sealed)); }
  SECTION("tampered ciphertext, nonce or tag") {
    for (size_t pos : {size_t{0}, kNonceSize, sealed.size() - 1}) {
      std::string t = sealed;
      t[pos] = static_cast<char>(t[pos] ^ 0x01);
      expect_auth_failure(Open(key.bytes, sid, "record:consent.ip", t));
    }
  }
  SECTION("another subject's associated data") {
    Result<std::string> r = Open(key.bytes, Sid::Random(), "record:consent.ip", sealed);
    REQUIRE_FALSE(r.ok());
    CHECK(r.status().code() == StatusCode::kCorruption);
  }
  SECTION("another purpose's associated data") {
    expect_auth_failure(Open(key.bytes, sid, "record:consent.user_agent", sealed));
  }
  SECTION("truncated") {
    Result<std::string> r = Open(key.bytes, sid, "record:consent.ip", sealed.substr(0, kNonceSize + kTagSize - 1));
    REQUIRE_FALSE(r.ok());
    CHECK_THAT(r.status().message(), Catch::Contains("truncated"));
  }
}

TEST_CASE("A wrapped data key unwraps only under its KEK and for its subject", "[vault][cipher]") {
  Key kek(1, {});
  Key other(2, {});
  for (size_t i = 0; i < 32; ++i) {
    kek.bytes[i] = static_cast<uint8_t>(i);
    other.bytes[i] = static_cast<uint8_t>(100 + i);
  }
  DataKey data = DataKey::Generate();
  Sid sid = Sid::Random();
  std::string wrapped = WrapDataKey(kek, sid, data);
  Result<DataKey> back = UnwrapDataKey(kek, sid, wrapped);
  REQUIRE(back.ok());
  CHECK(back->bytes == data.bytes);
  Result<DataKey> wrong_kek = UnwrapDataKey(other, sid, wrapped);
  REQUIRE_FALSE(wrong_kek.ok());
  CHECK_THAT(wrong_kek.status().message(), Catch::Contains("kek id 2"));
  CHECK_FALSE(UnwrapDataKey(kek, Sid::Random(), wrapped).ok());
  // A wrapped key is not an identifier ciphertext, even under the same key.
  CHECK_FALSE(Open(kek.bytes, sid, "identifier:email:", wrapped).ok());
}

TEST_CASE("Sids are 16 random bytes with a 32-digit hex form", "[domain][sid]") {
  Sid a = Sid::Random();
  Sid b = Sid::Random();
  CHECK(a != b);
  CHECK(a.ToHex().size() == 32);
  Result<Sid> parsed = Sid::FromHex(a.ToHex());
  REQUIRE(parsed.ok());
  CHECK(*parsed == a);
  CHECK_FALSE(Sid::FromHex("abc").ok());
  CHECK_FALSE(Sid::FromHex(std::string(32, 'g')).ok());
  CHECK(Sid().IsZero());
}

}  // namespace
}  // namespace consentd::vault
