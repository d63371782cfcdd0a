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
