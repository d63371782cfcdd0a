#include "tests/ledger/test_util.h"

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <random>
#include <system_error>

#include "src/base/bytes.h"

namespace consentd::testing {

namespace {
[[noreturn]] void Die(std::string_view what) {
  std::fprintf(stderr, "test_util: %.*s\n", static_cast<int>(what.size()), what.data());
  std::abort();
}
}  // namespace

std::string Unhex(std::string_view hex) {
  auto r = HexDecode(hex);
  if (!r.ok()) Die("bad hex constant: " + std::string(hex));
  return std::move(r).value();
}

Hash HashFromHex(std::string_view hex) {
  std::string raw = Unhex(hex);
  if (raw.size() != 32) Die("hash constant is not 32 bytes: " + std::string(hex));
  Hash h;
  for (size_t i = 0; i < 32; ++i) h[i] = static_cast<uint8_t>(raw[i]);
  return h;
}

std::string HexOf(const Hash& h) { return HexEncode(AsBytes(h)); }

std::optional<Hash> HashFromBytes(std::string_view raw) {
  if (raw.size() != 32) return std::nullopt;
  Hash h;
  for (size_t i = 0; i < 32; ++i) h[i] = static_cast<uint8_t>(raw[i]);
  return h;
}

void MemoryTree::Append(const Hash& leaf_hash) {
  uint64_t index = frontier_.size();
  std::vector<Hash> completed;
  frontier_.Append(leaf_hash, &completed);
  for (size_t l = 0; l < completed.size(); ++l) {
    if (levels_.size() <= l) levels_.emplace_back();
    // Leaf `index` completes node (l, index >> l), which is the next one at
    // that level.
    if (levels_[l].size() != (index >> l)) Die("MemoryTree: node completed out of order");
    levels_[l].push_back(completed[l]);
  }
}

void MemoryTree::AppendEntry(std::string_view entry) { Append(ledger::LeafHash(AsBytes(entry))); }

Result<Hash> MemoryTree::Node(int level, uint64_t index) const {
  if (level < 0 || static_cast<size_t>(level) >= levels_.size() || index >= levels_[level].size()) {
    return Status::NotFound("node (" + std::to_string(level) + "," + std::to_string(index) + ")");
  }
  return levels_[level][index];
}

ledger::NodeSource MemoryTree::Source() const {
  return [this](int level, uint64_t index) {
    ++reads_;
    return Node(level, index);
  };
}

Hash NaiveRoot(const std::vector<Hash>& leaves, uint64_t begin, uint64_t end) {
  uint64_t n = end - begin;
  if (n == 0) return ledger::EmptyRoot();
  if (n == 1) return leaves[begin];
  uint64_t k = 1;
  while (k * 2 < n) k *= 2;
  return ledger::NodeHash(NaiveRoot(leaves, begin, begin + k), NaiveRoot(leaves, begin + k, end));
}

std::vector<Hash> HashesFromJson(const nlohmann::json& array) {
  std::vector<Hash> out;
  for (const auto& v : array) out.push_back(HashFromHex(v.get<std::string>()));
  return out;
}

std::filesystem::path SharedPath(std::string_view relative) {
  return std::filesystem::path(CONSENTD_SHARED_DIR) / relative;
}

const nlohmann::json& MerkleVectors() {
  static const nlohmann::json* vectors = [] {
    std::ifstream in(SharedPath("vectors/merkle-vectors.json"));
    if (!in) Die("cannot open merkle-vectors.json");
    return new nlohmann::json(nlohmann::json::parse(in));
  }();
  return *vectors;
}

TempDir::TempDir() {
  std::random_device rd;
  std::mt19937_64 rng((static_cast<uint64_t>(rd()) << 32) ^ rd());
  auto base = std::filesystem::temp_directory_path();
  for (int attempt = 0; attempt < 100; ++attempt) {
    auto candidate = base / ("consentd-test-" + std::to_string(rng()));
    std::error_code ec;
    if (std::filesystem::create_directory(candidate, ec)) {
      path_ = candidate;
      return;
    }
  }
  Die("cannot create a temporary directory");
}

TempDir::~TempDir() {
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

}  // namespace consentd::testing
