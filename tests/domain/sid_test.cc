// Sid: the text and byte forms, and the time-ordered sids new subjects get
// (creation time first, so the tables keyed by sid grow at their end).
#include "src/domain/sid.h"

#include <catch2/catch.hpp>
#include <cstring>
#include <set>

namespace consentd::domain {
namespace {

TEST_CASE("A time-ordered sid starts with its creation time in milliseconds, big-endian") {
  const int64_t t = 1'732'000'123'456;  // 0x0193_4340_8A40
  const Sid sid = Sid::TimeOrdered(t);
  const std::string hex = sid.ToHex();
  CHECK(hex.substr(0, 12) == "019343408a40");
  uint64_t back = 0;
  for (size_t i = 0; i < 6; ++i) back = (back << 8) | sid.bytes()[i];
  CHECK(back == static_cast<uint64_t>(t));
}

TEST_CASE("Time-ordered sids made later sort after earlier ones, whatever their random bytes") {
  for (int i = 0; i < 200; ++i) {
    const Sid a = Sid::TimeOrdered(1'700'000'000'000 + i);
    const Sid b = Sid::TimeOrdered(1'700'000'000'001 + i);
    CHECK(a < b);
    CHECK(std::memcmp(a.bytes().data(), b.bytes().data(), Sid::kSize) < 0);  // the order SQLite keys sort in
  }
}

TEST_CASE("Time-ordered sids of one millisecond differ in their 80 random bits") {
  std::set<Sid> seen;
  std::set<uint64_t> hashes;
  for (int i = 0; i < 1000; ++i) {
    const Sid s = Sid::TimeOrdered(1'700'000'000'000);
    seen.insert(s);
    hashes.insert(s.HashBits());
  }
  CHECK(seen.size() == 1000);
  CHECK(hashes.size() == 1000);
}

TEST_CASE("A time before 1970 gives a sid whose time bytes are zero") {
  const Sid s = Sid::TimeOrdered(-5);
  CHECK(s.ToHex().substr(0, 12) == "000000000000");
  CHECK_FALSE(s.IsZero());
}

TEST_CASE("HashBits and std::hash take the sid's last 8 bytes, not its time") {
  std::array<uint8_t, Sid::kSize> b{};
  for (size_t i = 0; i < b.size(); ++i) b[i] = static_cast<uint8_t>(i + 1);
  const Sid s(b);
  uint64_t tail;
  std::memcpy(&tail, b.data() + 8, 8);
  CHECK(s.HashBits() == tail);
  CHECK(std::hash<Sid>()(s) == static_cast<size_t>(tail));
  std::array<uint8_t, Sid::kSize> c = b;
  c[0] ^= 0xff;  // another time, same random tail
  CHECK(Sid(c).HashBits() == s.HashBits());
}

TEST_CASE("Hex round-trips and malformed hex is refused") {
  const Sid s = Sid::TimeOrdered(1'700'000'000'000);
  Result<Sid> back = Sid::FromHex(s.ToHex());
  REQUIRE(back.ok());
  CHECK(*back == s);
  CHECK_FALSE(Sid::FromHex("0123").ok());
  CHECK_FALSE(Sid::FromHex(std::string(32, 'g')).ok());
}

}  // namespace
}  // namespace consentd::domain
