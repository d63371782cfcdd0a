// Shared helpers of the ledger tests: hex and hash parsing, the known-answer
// vectors of ../shared/vectors/merkle-vectors.json, and temporary
// directories that remove themselves.
#ifndef CONSENTD_TESTS_LEDGER_TEST_UTIL_H_
#define CONSENTD_TESTS_LEDGER_TEST_UTIL_H_

#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "src/base/sha256.h"

namespace consentd::testing {

// Decodes hex (either case); aborts the test program on malformed input,
// because a malformed constant is a bug in the test.
std::string Unhex(std::string_view hex);
// Decodes exactly 32 bytes of hex into a Hash; aborts otherwise.
Hash HashFromHex(std::string_view hex);
// Lower-case hex of a hash.
std::string HexOf(const Hash& h);
// Hashes from a JSON array of hex strings.
std::vector<Hash> HashesFromJson(const nlohmann::json& array);

// The parsed ../shared/vectors/merkle-vectors.json (loaded once).
const nlohmann::json& MerkleVectors();

// Path of a file under ../shared.
std::filesystem::path SharedPath(std::string_view relative);

// A fresh directory under the system temp dir, removed (recursively) on
// destruction.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::filesystem::path& path() const { return path_; }
  std::filesystem::path operator/(std::string_view name) const { return path_ / name; }

 private:
  std::filesystem::path path_;
};

}  // namespace consentd::testing

#endif  // CONSENTD_TESTS_LEDGER_TEST_UTIL_H_
