// Sid: the random 128-bit pseudonym of a subject (a person), assigned once
// and never derived from personal data. Ledger entries name subjects only by
// their sid; the text form is 32 lower-case hexadecimal digits.
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

  // Parses exactly 32 hexadecimal digits (either case).
  static Result<Sid> FromHex(std::string_view hex);
  // Exactly 16 bytes.
  static Result<Sid> FromBytes(ByteView bytes);

  std::string ToHex() const;
  ByteView bytes() const { return ByteView(bytes_.data(), bytes_.size()); }
  bool IsZero() const;

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
    size_t h = 0;
    for (uint8_t b : s.bytes()) h = h * 131 + b;
    return h;
  }
};

#endif  // CONSENTD_DOMAIN_SID_H_
