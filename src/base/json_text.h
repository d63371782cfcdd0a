// IsPlainJsonText: whether JSON writes a string's bytes between quotes as
// they are (printable ASCII without '"' or '\'), which is also exactly what
// nlohmann::json's dump() prints for it. The text encoders that skip
// building JSON objects (answers, ledger payloads) write such strings
// directly and hand anything else to the JSON library.
//
// Thread-safety: a pure function.
#ifndef CONSENTD_BASE_JSON_TEXT_H_
#define CONSENTD_BASE_JSON_TEXT_H_

#include <string_view>

namespace consentd {

inline bool IsPlainJsonText(std::string_view s) {
  for (unsigned char c : s) {
    if (c < 0x20 || c > 0x7e || c == '"' || c == '\\') return false;
  }
  return true;
}

}  // namespace consentd

#endif  // CONSENTD_BASE_JSON_TEXT_H_
