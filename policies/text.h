// Small character-class checks shared by the policy validators. Hand-written
// rather than std::regex: policy strings can be up to a file's size, and
// libstdc++'s regex recurses per character.
//
// Thread-safety: pure functions.
#ifndef CONSENTD_POLICIES_TEXT_H_
#define CONSENTD_POLICIES_TEXT_H_

#include <string>
#include <string_view>

namespace consentd::policies::text {

inline bool IsDigit(char c) { return c >= '0' && c <= '9'; }
inline bool IsLower(char c) { return c >= 'a' && c <= 'z'; }
inline bool IsUpper(char c) { return c >= 'A' && c <= 'Z'; }
inline bool IsAlnum(char c) { return IsDigit(c) || IsLower(c) || IsUpper(c); }

inline bool AllDigits(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s) {
    if (!IsDigit(c)) return false;
  }
  return true;
}

// Every character in [a-z0-9_.-] (and [A-Z] when allow_upper).
inline bool IsKeyLike(std::string_view s, bool allow_upper = false) {
  for (char c : s) {
    bool ok = IsLower(c) || IsDigit(c) || c == '_' || c == '.' || c == '-' || (allow_upper && IsUpper(c));
    if (!ok) return false;
  }
  return true;
}

// A stable key or instance id: [a-z0-9][a-z0-9_.-]{0,63}.
inline bool IsStableKey(std::string_view s) {
  return !s.empty() && s.size() <= 64 && (IsLower(s[0]) || IsDigit(s[0])) && IsKeyLike(s);
}

// `s` in double quotes, cut to 64 bytes with "..." when longer, with
// control characters and quotes escaped, for error messages.
inline std::string Quote(std::string_view s) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out = "\"";
  size_t n = s.size() > 64 ? 64 : s.size();
  for (size_t i = 0; i < n; ++i) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c < 0x20 || c == 0x7f) {
      out += "\\x";
      out += kHex[c >> 4];
      out += kHex[c & 15];
    } else {
      out += static_cast<char>(c);
    }
  }
  if (s.size() > 64) out += "...";
  out += '"';
  return out;
}

}  // namespace consentd::policies::text

#endif  // CONSENTD_POLICIES_TEXT_H_
