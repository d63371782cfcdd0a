// PolicyError: one problem found in a policy document, naming the file, the
// place (an RFC 6901 JSON pointer such as "/systems/shopify-main/receives/2",
// or a line and column for malformed JSON) and the problem. Loading collects
// every error it can find, not just the first.
//
// Messages quote policy keys and values (chosen by operators, not personal
// data) but never the value of a credential.
// Thread-safety: value types; the free functions are thread-safe.
#ifndef CONSENTD_POLICIES_POLICY_ERROR_H_
#define CONSENTD_POLICIES_POLICY_ERROR_H_

#include <string>
#include <string_view>
#include <vector>

namespace consentd::policies {

struct PolicyError {
  std::string file;     // as given to the loader
  std::string pointer;  // RFC 6901; "" is the whole document
  std::string message;  // the problem, e.g. "unknown purpose \"emial\""
  int line = 0;         // 1-based; set (with column) only for malformed JSON
  int column = 0;

  // "FILE:LINE:COLUMN: MESSAGE" for malformed JSON, else
  // "FILE: POINTER: MESSAGE" (the whole document is written "(document)").
  std::string ToString() const;

  bool operator==(const PolicyError&) const = default;
};

// One error per line, each as ToString(), in the order found.
std::string FormatErrors(const std::vector<PolicyError>& errors);

// Appends to an RFC 6901 pointer: "~" becomes "~0" and "/" becomes "~1".
std::string JsonPointerChild(std::string_view parent, std::string_view token);
std::string JsonPointerChild(std::string_view parent, size_t index);

}  // namespace consentd::policies

#endif  // CONSENTD_POLICIES_POLICY_ERROR_H_
