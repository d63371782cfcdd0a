// Shared helpers of the ledger tests: hex and hash parsing, the known-answer
// vectors of ../shared/vectors/merkle-vectors.json, and temporary
// directories that remove themselves.
#ifndef CONSENTD_TESTS_LEDGER_TEST_UTIL_H_
#define CONSENTD_TESTS_LEDGER_TEST_UTIL_H_

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "ledger/merkle.h"
#include "src/base/sha256.h"

namespace consentd::testing {

// Decodes hex (either case); aborts the test program on malformed input,
// because a malformed constant is a bug in the test.
std::string Unhex(std::string_view hex);
// Decodes exactly 32 bytes of hex into a Hash; aborts otherwise.
Hash HashFromHex(std::string_view hex);
// Lower-case hex of a hash.
std::string HexOf(const Hash& h);
// The bytes as a Hash when there are exactly 32 of them.
std::optional<Hash> HashFromBytes(std::string_view raw);
// Hashes from a JSON array of hex strings.
std::vector<Hash> HashesFromJson(const nlohmann::json& array);

// An in-memory store of the perfect-subtree hashes of a tree, filled the way
// the ledger fills its node table: from TreeFrontier::Append's `completed`
// output, node (l, k) being completed[l] of leaf ((k+1) << l) - 1.
class MemoryTree {
 public:
  void Append(const Hash& leaf_hash);
  void AppendEntry(std::string_view entry);
  uint64_t size() const { return frontier_.size(); }
  const ledger::TreeFrontier& frontier() const { return frontier_; }
  // Leaf hashes in order.
  const std::vector<Hash>& leaves() const { return levels_[0]; }
  // Stored node (level, index); NotFound when it is not (yet) stored.
  Result<Hash> Node(int level, uint64_t index) const;
  // A NodeSource reading this tree. The tree must outlive it.
  ledger::NodeSource Source() const;
  // How many times Source() was read (to check that algorithms stay cheap).
  uint64_t reads() const { return reads_; }

 private:
  ledger::TreeFrontier frontier_;
  std::vector<std::vector<Hash>> levels_{1};
  mutable uint64_t reads_ = 0;
};

// MTH(leaves[begin:end]) by the RFC 6962 recursion, straight from the
// definition (no stored nodes): the oracle of the property tests.
Hash NaiveRoot(const std::vector<Hash>& leaves, uint64_t begin, uint64_t end);

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
