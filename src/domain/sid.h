// Sid: the 128-bit pseudonym of a subject (a person), assigned once and never
// derived from personal data. Ledger entries name subjects only by their sid;
// the text form is 32 lower-case hexadecimal digits. New subjects get
// time-ordered sids (TimeOrdered: creation time, then 80 random bits), older
// data directories hold fully random ones; nothing may rely on either shape
// except through HashBits.
//
// Thread-safety: a value type.
#ifndef CONSENTD_DOMAIN_SID_H_
#define CONSENTD_DOMAIN_SID_H_

#include <array>
#include <compare>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

#include "src/base/bytes.h"
#include "src/base/result.h"

namespace consentd::domain {

class Sid {
 public:
  static constexpr size_t kSize = 16;

  // The all-zero sid; never assigned to a subject.
  Sid() = default;
  explicit Sid(const std::array<uint8_t, kSize>& bytes) : bytes_(bytes) {}

  // A fresh random sid (libsodium's CSPRNG).
  static Sid Random();
  // A fresh sid for a subject created at `unix_ms`: the first 6 bytes are the
  // milliseconds since 1970 (big-endian; negative times count as 0), the
  // other 10 random (libsodium's CSPRNG). Sids made later sort after earlier
  // ones, so the tables and indexes keyed by sid grow at their end instead of
  // at random pages (docs/identity.md, "Subjects"). The time is no secret:
  // the ledger's subject.created entry carries it too.
  static Sid TimeOrdered(int64_t unix_ms);

  // Parses exactly 32 hexadecimal digits (either case).
  static Result<Sid> FromHex(std::string_view hex);
  // Exactly 16 bytes.
  static Result<Sid> FromBytes(ByteView bytes);

  std::string ToHex() const;
  ByteView bytes() const { return ByteView(bytes_.data(), bytes_.size()); }
  bool IsZero() const;
  // 64 random bits of the sid (its last 8 bytes), for hash tables, shards and
  // lock stripes; the leading bytes of a time-ordered sid are not random.
  uint64_t HashBits() const;

  auto operator<=>(const Sid&) const = default;

 private:
  std::array<uint8_t, kSize> bytes_{};
};

// Produces sids for new subjects; injected so that tests can make them
// predictable. The default is Sid::Random.
using SidGenerator = std::function<Sid()>;

}  // namespace consentd::domain

template <>
struct std::hash<consentd::domain::Sid> {
  size_t operator()(const consentd::domain::Sid& s) const noexcept {
    return static_cast<size_t>(s.HashBits());
  }
};

#endif  // CONSENTD_DOMAIN_SID_H_
