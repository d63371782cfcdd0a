#include "ledger/json_check.h"

#include <clocale>
#include <cmath>
#include <cstdlib>
#include <locale.h>
#include <string>
#include <vector>

namespace consentd::ledger {
namespace {

class Checker {
 public:
  explicit Checker(std::string_view text) : p_(text.data()), end_(text.data() + text.size()) {}

  bool Run() {
    if (!Value()) return false;
    SkipSpace();
    return p_ == end_;
  }

 private:
  void SkipSpace() {
    while (p_ < end_ && (*p_ == ' ' || *p_ == '\t' || *p_ == '\n' || *p_ == '\r')) ++p_;
  }

  bool Eat(char c) {
    SkipSpace();
    if (p_ == end_ || *p_ != c) return false;
    ++p_;
    return true;
  }

  // One value, nesting through an explicit stack (no recursion: a payload
  // may nest tens of thousands of levels).
  bool Value() {
    std::vector<char> open;  // '{' or '[' of the containers being read
    for (;;) {
      // A value starts here.
      SkipSpace();
      if (p_ == end_) return false;
      bool closed = false;  // the value just read is complete
      if (*p_ == '{') {
        ++p_;
        SkipSpace();
        if (p_ < end_ && *p_ == '}') {
          ++p_;
          closed = true;
        } else {
          open.push_back('{');
          if (!Key()) return false;
        }
      } else if (*p_ == '[') {
        ++p_;
        SkipSpace();
        if (p_ < end_ && *p_ == ']') {
          ++p_;
          closed = true;
        } else {
          open.push_back('[');
        }
      } else {
        if (!Scalar()) return false;
        closed = true;
      }
      if (!closed) continue;
      // After a complete value: a separator, or the end of containers.
      for (;;) {
        if (open.empty()) return true;
        SkipSpace();
        if (p_ == end_) return false;
        const char c = *p_++;
        if (c == ',') {
          if (open.back() == '{' && !Key()) return false;
          break;  // the next member's or element's value
        }
        if (c != (open.back() == '{' ? '}' : ']')) return false;
        open.pop_back();
      }
    }
  }

  // A member name and its colon.
  bool Key() {
    SkipSpace();
    if (p_ == end_ || *p_ != '"') return false;
    if (!String()) return false;
    return Eat(':');
  }

  bool Scalar() {
    switch (*p_) {
      case '"':
        return String();
      case 't':
        return Literal("true");
      case 'f':
        return Literal("false");
      case 'n':
        return Literal("null");
      default:
        return Number();
    }
  }

  bool Literal(std::string_view word) {
    if (static_cast<size_t>(end_ - p_) < word.size() || std::string_view(p_, word.size()) != word) return false;
    p_ += word.size();
    return true;
  }

  static bool IsCont(unsigned char c) { return (c & 0xC0) == 0x80; }

  // At the opening quote.
  bool String() {
    ++p_;
    for (;;) {
      if (p_ == end_) return false;
      const unsigned char c = static_cast<unsigned char>(*p_);
      if (c == '"') {
        ++p_;
        return true;
      }
      if (c == '\\') {
        if (!Escape()) return false;
        continue;
      }
      if (c < 0x20) return false;
      if (c < 0x80) {
        ++p_;
        continue;
      }
      if (!Utf8()) return false;
    }
  }

  // One multi-byte UTF-8 sequence (RFC 3629, table 3-7 of Unicode).
  bool Utf8() {
    const unsigned char c = static_cast<unsigned char>(*p_);
    const size_t left = static_cast<size_t>(end_ - p_);
    auto at = [&](size_t i) { return static_cast<unsigned char>(p_[i]); };
    size_t n = 0;
    if (c >= 0xC2 && c <= 0xDF) {
      n = 2;
      if (left < 2 || !IsCont(at(1))) return false;
    } else if (c >= 0xE0 && c <= 0xEF) {
      n = 3;
      if (left < 3 || !IsCont(at(1)) || !IsCont(at(2))) return false;
      if (c == 0xE0 && at(1) < 0xA0) return false;  // overlong
      if (c == 0xED && at(1) > 0x9F) return false;  // surrogates
    } else if (c >= 0xF0 && c <= 0xF4) {
      n = 4;
      if (left < 4 || !IsCont(at(1)) || !IsCont(at(2)) || !IsCont(at(3))) return false;
      if (c == 0xF0 && at(1) < 0x90) return false;  // overlong
      if (c == 0xF4 && at(1) > 0x8F) return false;  // above U+10FFFF
    } else {
      return false;
    }
    p_ += n;
    return true;
  }

  // Four hex digits after "\u"; -1 when they are not.
  int Hex4() {
    if (end_ - p_ < 4) return -1;
    int v = 0;
    for (int i = 0; i < 4; ++i) {
      const char h = p_[i];
      int d;
      if (h >= '0' && h <= '9') {
        d = h - '0';
      } else if (h >= 'a' && h <= 'f') {
        d = h - 'a' + 10;
      } else if (h >= 'A' && h <= 'F') {
        d = h - 'A' + 10;
      } else {
        return -1;
      }
      v = v * 16 + d;
    }
    p_ += 4;
    return v;
  }

  // At the backslash.
  bool Escape() {
    ++p_;
    if (p_ == end_) return false;
    const char e = *p_++;
    switch (e) {
      case '"': case '\\': case '/': case 'b': case 'f': case 'n': case 'r': case 't':
        return true;
      case 'u': {
        const int u = Hex4();
        if (u < 0) return false;
        if (u >= 0xDC00 && u <= 0xDFFF) return false;  // a low surrogate first
        if (u < 0xD800 || u > 0xDBFF) return true;
        // A high surrogate: a low one must follow.
        if (end_ - p_ < 2 || p_[0] != '\\' || p_[1] != 'u') return false;
        p_ += 2;
        const int low = Hex4();
        return low >= 0xDC00 && low <= 0xDFFF;
      }
      default:
        return false;
    }
  }

  bool Digits() {
    const char* start = p_;
    while (p_ < end_ && *p_ >= '0' && *p_ <= '9') ++p_;
    return p_ > start;
  }

  bool Number() {
    const char* start = p_;
    if (p_ < end_ && *p_ == '-') ++p_;
    if (p_ == end_) return false;
    if (*p_ == '0') {
      ++p_;
    } else if (*p_ >= '1' && *p_ <= '9') {
      Digits();
    } else {
      return false;
    }
    const size_t int_digits = static_cast<size_t>(p_ - start) - (*start == '-' ? 1 : 0);
    bool plain = int_digits <= 18;
    if (p_ < end_ && *p_ == '.') {
      ++p_;
      if (!Digits()) return false;
      plain = false;
    }
    if (p_ < end_ && (*p_ == 'e' || *p_ == 'E')) {
      ++p_;
      if (p_ < end_ && (*p_ == '+' || *p_ == '-')) ++p_;
      if (!Digits()) return false;
      plain = false;
    }
    // Parsers that read numbers as doubles (nlohmann::json among them)
    // refuse one that overflows to infinity.
    return plain || Finite(std::string(start, p_));
  }

  static bool Finite(const std::string& number) {
    static const locale_t c_locale = newlocale(LC_ALL_MASK, "C", static_cast<locale_t>(0));
    return std::isfinite(strtod_l(number.c_str(), nullptr, c_locale));
  }

  const char* p_;
  const char* const end_;
};

}  // namespace

bool IsJsonText(std::string_view text) { return Checker(text).Run(); }

}  // namespace consentd::ledger
