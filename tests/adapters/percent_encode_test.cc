#include "adapters/percent_encode.h"

#include <catch2/catch.hpp>

namespace consentd::adapters {
namespace {

TEST_CASE("PercentEncode: unreserved characters stay, everything else becomes upper-case %XX", "[percent_encode]") {
  CHECK(PercentEncode("AZaz09-._~") == "AZaz09-._~");
  CHECK(PercentEncode("jane+tag@example.com") == "jane%2Btag%40example.com");
  CHECK(PercentEncode("a b/c?d#e&f=g'h\"") == "a%20b%2Fc%3Fd%23e%26f%3Dg%27h%22");
  CHECK(PercentEncode("%") == "%25");
  CHECK(PercentEncode("") == "");
}

TEST_CASE("PercentEncode: bytes above ASCII and control bytes are encoded one by one", "[percent_encode]") {
  CHECK(PercentEncode("j\xc3\xbc") == "j%C3%BC");
  CHECK(PercentEncode(std::string("\0\n\x7f", 3)) == "%00%0A%7F");
}

}  // namespace
}  // namespace consentd::adapters
