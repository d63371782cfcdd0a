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

Sid Sid::TimeOrdered(int64_t unix_ms) {
  const uint64_t ms = unix_ms > 0 ? static_cast<uint64_t>(unix_ms) : 0;
  std::array<uint8_t, kSize> b{};
  for (int i = 0; i < 6; ++i) b[static_cast<size_t>(i)] = static_cast<uint8_t>(ms >> (8 * (5 - i)));
  std::string r = RandomBytes(kSize - 6);
  std::memcpy(b.data() + 6, r.data(), kSize - 6);
  return Sid(b);
}

uint64_t Sid::HashBits() const {
  uint64_t h;
  std::memcpy(&h, bytes_.data() + kSize - 8, sizeof(h));
  return h;
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
