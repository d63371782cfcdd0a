#include "src/domain/sid.h"

#include <algorithm>
#include <cstring>

namespace consentd::domain {

Sid Sid::Random() {
  std::string r = RandomBytes(kSize);
  std::array<uint8_t, kSize> b{};
  std::memcpy(b.data(), r.data(), kSize);
  return Sid(b);
}

Result<Sid> Sid::FromHex(std::string_view hex) {
  if (hex.size() != 2 * kSize) return Status::InvalidArgument("sid must be 32 hexadecimal digits");
  Result<std::string> raw = HexDecode(hex);
  if (!raw.ok()) return Status::InvalidArgument("sid must be 32 hexadecimal digits");
  return FromBytes(AsBytes(*raw));
}

Result<Sid> Sid::FromBytes(ByteView bytes) {
  if (bytes.size() != kSize) return Status::InvalidArgument("sid must be 16 bytes");
  std::array<uint8_t, kSize> b{};
  std::copy(bytes.begin(), bytes.end(), b.begin());
  return Sid(b);
}

std::string Sid::ToHex() const { return HexEncode(bytes()); }

bool Sid::IsZero() const {
  return std::all_of(bytes_.begin(), bytes_.end(), [](uint8_t b) { return b == 0; });
}

}  // namespace consentd::domain
