#include "policies/policy_version.h"

#include <array>
#include <cstdint>

#include "src/base/bytes.h"
#include "src/base/sha256.h"

namespace consentd::policies {

std::string PolicyVersion(std::span<const std::string> documents) {
  Sha256 h;
  for (const std::string& d : documents) {
    std::array<uint8_t, 8> len{};
    uint64_t n = d.size();
    for (int i = 7; i >= 0; --i) {
      len[i] = static_cast<uint8_t>(n & 0xff);
      n >>= 8;
    }
    h.Update(ByteView(len.data(), len.size()));
    h.Update(std::string_view(d));
  }
  Hash digest = h.Finish();
  return "sha256:" + HexEncode(AsBytes(digest));
}

}  // namespace consentd::policies
