#include "adapters/soql_escape.h"

#include <catch2/catch.hpp>

namespace consentd::adapters {
namespace {

std::string Escaped(std::string_view in) {
  std::string out;
  REQUIRE(EscapeSoqlString(in, &out));
  return out;
}

TEST_CASE("EscapeSoqlString: an ordinary email is unchanged", "[soql]") {
  CHECK(Escaped("jane.doe+tag@example.com") == "jane.doe+tag@example.com");
  CHECK(Escaped("") == "");
}

TEST_CASE("EscapeSoqlString: quotes and backslashes cannot end the literal", "[soql]") {
  CHECK(Escaped("o'brien@example.com") == "o\\'brien@example.com");
  CHECK(Escaped("x' OR Email != '") == "x\\' OR Email != \\'");
  CHECK(Escaped("a\"b") == "a\\\"b");
  CHECK(Escaped("a\\b") == "a\\\\b");
  CHECK(Escaped("a\\'b") == "a\\\\\\'b");
}

TEST_CASE("EscapeSoqlString: SOQL's named control escapes are used, other control bytes refused", "[soql]") {
  CHECK(Escaped("a\nb\rc\td\be\ff") == "a\\nb\\rc\\td\\be\\ff");
  std::string out;
  CHECK_FALSE(EscapeSoqlString(std::string("a\0b", 3), &out));
  CHECK_FALSE(EscapeSoqlString("a\x01" "b", &out));
  CHECK_FALSE(EscapeSoqlString("a\x7f", &out));
}

TEST_CASE("EscapeSoqlString: bytes above ASCII (UTF-8) pass through", "[soql]") {
  CHECK(Escaped("j\xc3\xbcrgen@example.de") == "j\xc3\xbcrgen@example.de");
}

}  // namespace
}  // namespace consentd::adapters
