#include "adapters/soql_escape.h"

namespace consentd::adapters {

bool EscapeSoqlString(std::string_view value, std::string* out) {
  out->clear();
  for (char c : value) {
    switch (c) {
      case '\'': *out += "\\'"; break;
      case '"': *out += "\\\""; break;
      case '\\': *out += "\\\\"; break;
      case '\n': *out += "\\n"; break;
      case '\r': *out += "\\r"; break;
      case '\t': *out += "\\t"; break;
      case '\b': *out += "\\b"; break;
      case '\f': *out += "\\f"; break;
      default:
        if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) return false;
        out->push_back(c);
    }
  }
  return true;
}

}  // namespace consentd::adapters
