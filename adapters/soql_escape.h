// Escaping of values placed inside a SOQL string literal ('...'), so that an
// email such as o'brien@example.com cannot end the literal and change the
// query (SOQL injection).
//
// Thread-safety: pure functions.
#ifndef CONSENTD_ADAPTERS_SOQL_ESCAPE_H_
#define CONSENTD_ADAPTERS_SOQL_ESCAPE_H_

#include <string>
#include <string_view>

namespace consentd::adapters {

// Writes `value` with SOQL's backslash escapes (\' \" \\ \n \r \t \b \f) to
// *out. False, for a value holding any other control character (no email
// holds one); *out is then unspecified.
bool EscapeSoqlString(std::string_view value, std::string* out);

}  // namespace consentd::adapters

#endif  // CONSENTD_ADAPTERS_SOQL_ESCAPE_H_
