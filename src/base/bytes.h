// Byte helpers: hexadecimal and base64 codecs, constant-time comparison and
// random bytes. Decoders are strict: they reject anything that their encoder
// would not have produced, so that one value has one text form.
//
// Thread-safety: all functions are thread-safe.
#ifndef CONSENTD_BASE_BYTES_H_
#define CONSENTD_BASE_BYTES_H_

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "src/base/result.h"

namespace consentd {

using ByteView = std::span<const uint8_t>;

inline ByteView AsBytes(std::string_view s) {
  return ByteView(reinterpret_cast<const uint8_t*>(s.data()), s.size());
}
inline std::string_view AsChars(ByteView b) {
  return std::string_view(reinterpret_cast<const char*>(b.data()), b.size());
}

// Lower-case hexadecimal.
std::string HexEncode(ByteView bytes);
// Accepts lower- and upper-case digits; fails on odd length or other bytes.
Result<std::string> HexDecode(std::string_view hex);

// RFC 4648 base64 with the standard alphabet and padding.
std::string Base64Encode(ByteView bytes);
// Fails on a wrong alphabet, missing or extra padding, or non-zero pad bits.
Result<std::string> Base64Decode(std::string_view text);

// Compares in time that depends only on the lengths. Use it for secrets
// (tokens, MACs, signatures), never `==`.
bool ConstantTimeEquals(ByteView a, ByteView b);
inline bool ConstantTimeEquals(std::string_view a, std::string_view b) {
  return ConstantTimeEquals(AsBytes(a), AsBytes(b));
}

// Cryptographically secure random bytes (libsodium). Never fails.
std::string RandomBytes(size_t n);

}  // namespace consentd

#endif  // CONSENTD_BASE_BYTES_H_
