// JsonScan: a first pass over a policy document's bytes with nlohmann's SAX
// parser that finds what the DOM parser hides: the line and column of a
// syntax error, keys repeated within one object (the DOM keeps the last one
// silently), and nesting deeper than a policy ever needs. Internal to the
// loader.
//
// Thread-safety: a pure function.
#ifndef CONSENTD_POLICIES_JSON_SCAN_H_
#define CONSENTD_POLICIES_JSON_SCAN_H_

#include <string>
#include <string_view>
#include <vector>

namespace consentd::policies {

struct JsonScanResult {
  bool well_formed = false;
  // When !well_formed: where and what. line and column are 1-based.
  int line = 0;
  int column = 0;
  std::string message;
  // RFC 6901 pointers of the second and later occurrences of a key.
  std::vector<std::string> duplicate_keys;
};

inline constexpr int kMaxJsonDepth = 32;

// Never throws.
JsonScanResult ScanJson(std::string_view bytes);

}  // namespace consentd::policies

#endif  // CONSENTD_POLICIES_JSON_SCAN_H_
