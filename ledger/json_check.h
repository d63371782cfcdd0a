// JSON validation without building a document: the check the ledger makes
// of every payload it appends (ValidatePayload). A DOM parse of each
// payload was 7.6% of an import's CPU (three entries per imported event);
// this reads each byte once and allocates nothing but its nesting stack.
//
// Thread-safety: pure function.
#ifndef CONSENTD_LEDGER_JSON_CHECK_H_
#define CONSENTD_LEDGER_JSON_CHECK_H_

#include <string_view>

namespace consentd::ledger {

// True when `text` is exactly one JSON value (RFC 8259) with optional white
// space around it: strings of valid UTF-8 (RFC 3629: no overlong forms, no
// surrogates) without raw control characters, escapes of the RFC's set,
// \u escapes of UTF-16 surrogates only as high-low pairs, and numbers whose
// value is finite as a double. It accepts what nlohmann::json's parser
// accepts (tests/ledger/json_check_test.cc compares the two; nlohmann::json
// is what the project's readers of payloads use), with two exceptions:
// that parser skips a leading byte order mark, and takes a NUL byte outside
// a string for the end of its input, ignoring what follows; here both are
// refused.
bool IsJsonText(std::string_view text);

}  // namespace consentd::ledger

#endif  // CONSENTD_LEDGER_JSON_CHECK_H_
