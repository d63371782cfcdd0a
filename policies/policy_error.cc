#include "policies/policy_error.h"

namespace consentd::policies {

std::string PolicyError::ToString() const {
  std::string out = file;
  if (line > 0) {
    out += ':' + std::to_string(line) + ':' + std::to_string(column) + ": ";
  } else {
    out += ": ";
    out += pointer.empty() ? "(document)" : pointer;
    out += ": ";
  }
  out += message;
  return out;
}

std::string FormatErrors(const std::vector<PolicyError>& errors) {
  std::string out;
  for (const PolicyError& e : errors) {
    out += e.ToString();
    out += '\n';
  }
  return out;
}

std::string JsonPointerChild(std::string_view parent, std::string_view token) {
  std::string out(parent);
  out += '/';
  for (char c : token) {
    if (c == '~') {
      out += "~0";
    } else if (c == '/') {
      out += "~1";
    } else {
      out += c;
    }
  }
  return out;
}

std::string JsonPointerChild(std::string_view parent, size_t index) {
  std::string out(parent);
  out += '/';
  out += std::to_string(index);
  return out;
}

}  // namespace consentd::policies
