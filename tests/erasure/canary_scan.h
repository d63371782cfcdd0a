// Canary scan: finds a raw value in any file of a directory, in the
// encodings a careless component might have written it in (plain, lower and
// upper case, UTF-16LE/BE, hex, base64 at all three alignments). The same
// method as tests/identity/canary_test.cc, shared here for the erasure tests.
#ifndef CONSENTD_TESTS_ERASURE_CANARY_SCAN_H_
#define CONSENTD_TESTS_ERASURE_CANARY_SCAN_H_

#include <string>
#include <vector>

namespace consentd::erasure::testing {

// "file (encoding)" for every hit of `value` under `dir`.
std::vector<std::string> ScanForValue(const std::string& dir, const std::string& value);

}  // namespace consentd::erasure::testing

#endif  // CONSENTD_TESTS_ERASURE_CANARY_SCAN_H_
