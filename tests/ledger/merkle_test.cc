// Property tests of ledger/merkle.h over random trees of up to a few
// thousand leaves (fixed seed): roots against the RFC 6962 definition, every
// inclusion and consistency proof verifies, and every mutated proof fails.
#include <catch2/catch.hpp>

#include <bit>
#include <cstdint>
#include <random>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "ledger/merkle.h"
#include "src/base/bytes.h"
#include "tests/ledger/test_util.h"

namespace consentd::ledger {
namespace {

using consentd::testing::HexOf;
using consentd::testing::MemoryTree;
using consentd::testing::NaiveRoot;

constexpr uint64_t kMaxLeaves = 4097;

// One random tree, built once: leaf i is the leaf hash of 1..64 random bytes.
// Also keeps the frontier as it was after each append.
struct RandomTree {
  MemoryTree tree;
  std::vector<TreeFrontier> frontier_at;  // frontier_at[n]: after n leaves
};

const RandomTree& Tree() {
  static const RandomTree* t = [] {
    auto* r = new RandomTree;
    std::mt19937_64 rng(42);
    r->frontier_at.push_back(r->tree.frontier());
    for (uint64_t i = 0; i < kMaxLeaves; ++i) {
      std::string entry(1 + rng() % 64, '\0');
      for (char& c : entry) c = static_cast<char>(rng());
      r->tree.AppendEntry(entry);
      r->frontier_at.push_back(r->tree.frontier());
    }
    return r;
  }();
  return *t;
}

// A NodeSource that only serves nodes lying entirely inside the first `size`
// leaves: a proof or root for size n must not depend on later leaves.
NodeSource SourceFor(uint64_t size) {
  const MemoryTree* tree = &Tree().tree;
  return [tree, size](int level, uint64_t index) -> Result<Hash> {
    if (level < 0 || level >= 64 || ((index + 1) << level) > size) {
      return Status::Internal("read node (" + std::to_string(level) + "," + std::to_string(index) +
                              ") beyond size " + std::to_string(size));
    }
    return tree->Node(level, index);
  };
}

Hash Root(uint64_t size) {
  Result<Hash> r = RootFromNodes(SourceFor(size), size);
  REQUIRE(r.ok());
  return *r;
}

const Hash& Leaf(uint64_t i) { return Tree().tree.leaves()[i]; }

// Proof lengths from ../shared/reference/ledger.md §1.2 and §1.3.
size_t InclusionLength(uint64_t m, uint64_t n) {
  int inner = std::bit_width(m ^ (n - 1));
  return static_cast<size_t>(inner + std::popcount(m >> inner));
}
size_t ConsistencyLength(uint64_t m, uint64_t n) {
  if (m == n) return 0;
  int tz = std::countr_zero(m);
  int fork = std::bit_width((m - 1) ^ (n - 1));
  return static_cast<size_t>((std::has_single_bit(m) ? 0 : 1) + (fork - tz) + std::popcount((m - 1) >> fork));
}

Hash FlipBit(Hash h, size_t bit) {
  h[bit / 8 % 32] ^= static_cast<uint8_t>(1u << (bit % 8));
  return h;
}

Hash SomeOtherHash() { return Sha256Of(std::string_view("not in any tree")); }

const auto kSizes = {uint64_t{1},    uint64_t{2},    uint64_t{3},    uint64_t{4},    uint64_t{5},
                     uint64_t{7},    uint64_t{8},    uint64_t{9},    uint64_t{31},   uint64_t{32},
                     uint64_t{33},   uint64_t{255},  uint64_t{256},  uint64_t{257},  uint64_t{1000},
                     uint64_t{1023}, uint64_t{1024}, uint64_t{1025}, uint64_t{2047}, uint64_t{2048},
                     uint64_t{2049}, uint64_t{4095}, uint64_t{4096}, uint64_t{4097}};

// ---------------------------------------------------------------------------
// Roots and frontiers

TEST_CASE("RootFromNodes equals the recursive RFC 6962 MTH for every size up to 300", "[merkle]") {
  const auto& leaves = Tree().tree.leaves();
  CHECK(HexOf(Root(0)) == HexOf(EmptyRoot()));
  for (uint64_t n = 1; n <= 300; ++n) {
    CAPTURE(n);
    REQUIRE(HexOf(Root(n)) == HexOf(NaiveRoot(leaves, 0, n)));
  }
}

TEST_CASE("RootFromNodes equals the recursive RFC 6962 MTH at sizes around powers of two", "[merkle]") {
  uint64_t n = GENERATE(values(kSizes));
  CAPTURE(n);
  CHECK(HexOf(Root(n)) == HexOf(NaiveRoot(Tree().tree.leaves(), 0, n)));
}

TEST_CASE("The incrementally built frontier's root equals RootFromNodes at every size", "[merkle]") {
  for (uint64_t n = 0; n <= kMaxLeaves; ++n) {
    CAPTURE(n);
    const TreeFrontier& f = Tree().frontier_at[n];
    REQUIRE(f.size() == n);
    REQUIRE(f.hashes().size() == static_cast<size_t>(std::popcount(n)));
    REQUIRE(HexOf(f.Root()) == HexOf(Root(n)));
  }
}

TEST_CASE("TreeFrontier::FromNodes equals the incrementally built frontier at every size", "[merkle]") {
  for (uint64_t n = 0; n <= kMaxLeaves; ++n) {
    CAPTURE(n);
    Result<TreeFrontier> f = TreeFrontier::FromNodes(SourceFor(n), n);
    REQUIRE(f.ok());
    const TreeFrontier& want = Tree().frontier_at[n];
    REQUIRE(f->size() == n);
    REQUIRE(f->hashes() == want.hashes());
  }
}

TEST_CASE("A frontier rebuilt with FromNodes continues exactly like the original", "[merkle]") {
  uint64_t n = GENERATE(values(kSizes));
  CAPTURE(n);
  if (n + 10 > kMaxLeaves) n = kMaxLeaves - 10;
  Result<TreeFrontier> f = TreeFrontier::FromNodes(SourceFor(n), n);
  REQUIRE(f.ok());
  TreeFrontier rebuilt = *f;
  for (uint64_t i = n; i < n + 10; ++i) {
    std::vector<Hash> completed;
    rebuilt.Append(Leaf(i), &completed);
    REQUIRE(rebuilt.hashes() == Tree().frontier_at[i + 1].hashes());
    // The completed nodes are the stored nodes (l, i >> l).
    for (size_t l = 0; l < completed.size(); ++l) {
      Result<Hash> stored = Tree().tree.Node(static_cast<int>(l), i >> l);
      REQUIRE(stored.ok());
      CHECK(completed[l] == *stored);
    }
  }
}

TEST_CASE("Append reports the leaf and one completed subtree per trailing one bit of the old size", "[merkle]") {
  TreeFrontier f;
  for (uint64_t i = 0; i < 70; ++i) {
    std::vector<Hash> completed{SomeOtherHash(), SomeOtherHash()};  // must be cleared
    f.Append(Leaf(i), &completed);
    CAPTURE(i);
    REQUIRE(completed.size() == static_cast<size_t>(1 + std::countr_one(i)));
    CHECK(completed[0] == Leaf(i));
  }
  f.Append(Leaf(70));  // no output wanted
  CHECK(f.size() == 71);
  CHECK(f.Root() == Root(71));
}

TEST_CASE("FromNodes reports a missing stored node", "[merkle]") {
  NodeSource empty = [](int, uint64_t) -> Result<Hash> { return Status::NotFound("no nodes"); };
  Result<TreeFrontier> f = TreeFrontier::FromNodes(empty, 5);
  REQUIRE_FALSE(f.ok());
  CHECK(f.status().code() == StatusCode::kNotFound);
  CHECK(RootFromNodes(empty, 0).ok());  // the empty tree needs no node
  CHECK_FALSE(RootFromNodes(empty, 3).ok());
  CHECK_FALSE(InclusionProofFromNodes(empty, 0, 3).ok());
  CHECK_FALSE(ConsistencyProofFromNodes(empty, 1, 3).ok());
}

TEST_CASE("SubtreeHash of an arbitrary range equals the recursive MTH of that range", "[merkle]") {
  std::mt19937_64 rng(42);
  for (int i = 0; i < 500; ++i) {
    uint64_t a = rng() % kMaxLeaves;
    uint64_t b = rng() % kMaxLeaves;
    if (a == b) continue;
    if (a > b) std::swap(a, b);
    CAPTURE(a, b);
    Result<Hash> h = SubtreeHash(Tree().tree.Source(), a, b);
    REQUIRE(h.ok());
    CHECK(*h == NaiveRoot(Tree().tree.leaves(), a, b));
  }
  CHECK_FALSE(SubtreeHash(Tree().tree.Source(), 5, 5).ok());
  CHECK_FALSE(SubtreeHash(Tree().tree.Source(), 6, 5).ok());
}

// ---------------------------------------------------------------------------
// Inclusion proofs

TEST_CASE("Every inclusion proof for every index verifies and has the RFC 6962 length", "[merkle][inclusion]") {
  uint64_t n = GENERATE(values(kSizes));
  CAPTURE(n);
  Hash root = Root(n);
  for (uint64_t i = 0; i < n; ++i) {
    CAPTURE(i);
    Result<std::vector<Hash>> proof = InclusionProofFromNodes(SourceFor(n), i, n);
    REQUIRE(proof.ok());
    REQUIRE(proof->size() == InclusionLength(i, n));
    Status s = VerifyInclusion(i, n, Leaf(i), *proof, root);
    INFO(s.ToString());
    REQUIRE(s.ok());
  }
}

TEST_CASE("Every mutated inclusion proof fails to verify", "[merkle][inclusion]") {
  uint64_t n = GENERATE(values(kSizes));
  CAPTURE(n);
  Hash root = Root(n);
  std::mt19937_64 rng(42);
  for (uint64_t i = 0; i < n; ++i) {
    CAPTURE(i);
    Result<std::vector<Hash>> got = InclusionProofFromNodes(SourceFor(n), i, n);
    REQUIRE(got.ok());
    const std::vector<Hash>& proof = *got;

    // One flipped bit in each proof hash, in the leaf hash and in the root.
    for (size_t p = 0; p < proof.size(); ++p) {
      std::vector<Hash> bad = proof;
      bad[p] = FlipBit(bad[p], rng() % 256);
      CHECK_FALSE(VerifyInclusion(i, n, Leaf(i), bad, root).ok());
    }
    CHECK_FALSE(VerifyInclusion(i, n, FlipBit(Leaf(i), rng() % 256), proof, root).ok());
    CHECK_FALSE(VerifyInclusion(i, n, Leaf(i), proof, FlipBit(root, rng() % 256)).ok());

    // Wrong index.
    if (i + 1 < n) CHECK_FALSE(VerifyInclusion(i + 1, n, Leaf(i), proof, root).ok());
    if (i > 0) CHECK_FALSE(VerifyInclusion(i - 1, n, Leaf(i), proof, root).ok());
    CHECK_FALSE(VerifyInclusion(n, n, Leaf(i), proof, root).ok());

    // Wrong size (±1), against the root of that size: the proof of leaf i
    // in tree n must not prove leaf i into tree n±1.
    if (n + 1 <= kMaxLeaves) CHECK_FALSE(VerifyInclusion(i, n + 1, Leaf(i), proof, Root(n + 1)).ok());
    if (i < n - 1) CHECK_FALSE(VerifyInclusion(i, n - 1, Leaf(i), proof, Root(n - 1)).ok());
    // ... and against the same root whenever the size changes the proof length.
    if (InclusionLength(i, n + 1) != proof.size()) {
      CHECK_FALSE(VerifyInclusion(i, n + 1, Leaf(i), proof, root).ok());
    }
    if (i < n - 1 && InclusionLength(i, n - 1) != proof.size()) {
      CHECK_FALSE(VerifyInclusion(i, n - 1, Leaf(i), proof, root).ok());
    }

    // Truncated and extended.
    if (!proof.empty()) {
      std::vector<Hash> truncated(proof.begin(), proof.end() - 1);
      CHECK_FALSE(VerifyInclusion(i, n, Leaf(i), truncated, root).ok());
    }
    std::vector<Hash> extended = proof;
    extended.push_back(SomeOtherHash());
    CHECK_FALSE(VerifyInclusion(i, n, Leaf(i), extended, root).ok());
    std::vector<Hash> extended_with_root = proof;
    extended_with_root.push_back(root);
    CHECK_FALSE(VerifyInclusion(i, n, Leaf(i), extended_with_root, root).ok());

    // Wrong leaf and wrong root.
    if (n > 1) CHECK_FALSE(VerifyInclusion(i, n, Leaf((i + 1) % n), proof, root).ok());
    CHECK_FALSE(VerifyInclusion(i, n, SomeOtherHash(), proof, root).ok());
    if (n > 1) CHECK_FALSE(VerifyInclusion(i, n, Leaf(i), proof, Root(n - 1)).ok());
    CHECK_FALSE(VerifyInclusion(i, n, Leaf(i), proof, EmptyRoot()).ok());
  }
}

TEST_CASE("An inclusion proof does not bind the tree size, the checkpoint's signed size does", "[merkle][inclusion]") {
  // RFC 9162 verification takes the size from the caller: the proof [h1, h23]
  // of leaf 0 in the tree of 4 also "verifies" leaf 0 at size 3 against the
  // root of size 4, because both sizes give leaf 0 the same left/right path.
  // This is why the ledger verifies proofs only against signed checkpoints,
  // whose signature binds (size, root) together.
  Result<std::vector<Hash>> proof = InclusionProofFromNodes(SourceFor(4), 0, 4);
  REQUIRE(proof.ok());
  CHECK(VerifyInclusion(0, 3, Leaf(0), *proof, Root(4)).ok());
  CHECK_FALSE(VerifyInclusion(0, 3, Leaf(0), *proof, Root(3)).ok());
}

TEST_CASE("Inclusion verification rejects an empty tree and an index beyond the size", "[merkle][inclusion]") {
  CHECK(VerifyInclusion(0, 0, Leaf(0), {}, EmptyRoot()).code() == StatusCode::kInvalidArgument);
  CHECK_FALSE(VerifyInclusion(1, 1, Leaf(0), {}, Leaf(0)).ok());
  CHECK_FALSE(VerifyInclusion(UINT64_MAX, UINT64_MAX, Leaf(0), {}, Leaf(0)).ok());
  CHECK(VerifyInclusion(0, 1, Leaf(0), {}, Leaf(0)).ok());
  CHECK_FALSE(InclusionProofFromNodes(SourceFor(3), 3, 3).ok());
  CHECK_FALSE(InclusionProofFromNodes(SourceFor(0), 0, 0).ok());
}

// ---------------------------------------------------------------------------
// Consistency proofs

void CheckConsistencyPair(uint64_t m, uint64_t n, bool mutate, std::mt19937_64& rng) {
  CAPTURE(m, n);
  Result<std::vector<Hash>> got = ConsistencyProofFromNodes(SourceFor(n), m, n);
  REQUIRE(got.ok());
  const std::vector<Hash>& proof = *got;
  REQUIRE(proof.size() == ConsistencyLength(m, n));
  Hash rm = Root(m);
  Hash rn = Root(n);
  Status s = VerifyConsistency(m, n, rm, rn, proof);
  INFO(s.ToString());
  REQUIRE(s.ok());
  if (!mutate) return;

  for (size_t p = 0; p < proof.size(); ++p) {
    std::vector<Hash> bad = proof;
    bad[p] = FlipBit(bad[p], rng() % 256);
    CHECK_FALSE(VerifyConsistency(m, n, rm, rn, bad).ok());
  }
  // Wrong roots.
  CHECK_FALSE(VerifyConsistency(m, n, FlipBit(rm, rng() % 256), rn, proof).ok());
  CHECK_FALSE(VerifyConsistency(m, n, rm, FlipBit(rn, rng() % 256), proof).ok());
  if (m != n) CHECK_FALSE(VerifyConsistency(m, n, rn, rm, proof).ok());  // swapped
  // Wrong sizes (±1), with the roots of those sizes.
  if (m > 1) CHECK_FALSE(VerifyConsistency(m - 1, n, Root(m - 1), rn, proof).ok());
  if (m + 1 <= n) CHECK_FALSE(VerifyConsistency(m + 1, n, Root(m + 1), rn, proof).ok());
  if (n - 1 >= m && n - 1 > 0 && m != n) {
    CHECK_FALSE(VerifyConsistency(m, n - 1, rm, Root(n - 1), proof).ok());
  }
  if (n + 1 <= kMaxLeaves) CHECK_FALSE(VerifyConsistency(m, n + 1, rm, Root(n + 1), proof).ok());
  // Truncated and extended.
  if (!proof.empty()) {
    std::vector<Hash> truncated(proof.begin(), proof.end() - 1);
    CHECK_FALSE(VerifyConsistency(m, n, rm, rn, truncated).ok());
  }
  std::vector<Hash> extended = proof;
  extended.push_back(SomeOtherHash());
  CHECK_FALSE(VerifyConsistency(m, n, rm, rn, extended).ok());
}

TEST_CASE("Every consistency proof for every pair of sizes up to 300 verifies, and mutations fail",
          "[merkle][consistency]") {
  std::mt19937_64 rng(42);
  for (uint64_t n = 1; n <= 300; ++n) {
    for (uint64_t m = 1; m <= n; ++m) {
      // Mutate every pair up to 64 and one pair in eight above.
      CheckConsistencyPair(m, n, n <= 64 || rng() % 8 == 0, rng);
    }
  }
}

TEST_CASE("Consistency proofs for sampled pairs of sizes up to 4097 verify, and mutations fail",
          "[merkle][consistency]") {
  std::mt19937_64 rng(42);
  std::set<std::pair<uint64_t, uint64_t>> pairs;
  for (uint64_t n : kSizes) {
    for (uint64_t m : kSizes) {
      if (m <= n) pairs.emplace(m, n);
    }
  }
  while (pairs.size() < 2000) {
    uint64_t a = 1 + rng() % kMaxLeaves;
    uint64_t b = 1 + rng() % kMaxLeaves;
    pairs.emplace(std::min(a, b), std::max(a, b));
  }
  for (const auto& [m, n] : pairs) CheckConsistencyPair(m, n, true, rng);
}

TEST_CASE("Consistency verification rejects size 0, a shrinking tree and non-empty proofs for equal sizes",
          "[merkle][consistency]") {
  Hash r1 = Root(1);
  Hash r5 = Root(5);
  CHECK_FALSE(VerifyConsistency(0, 0, EmptyRoot(), EmptyRoot(), {}).ok());
  CHECK_FALSE(VerifyConsistency(0, 5, EmptyRoot(), r5, {}).ok());
  CHECK_FALSE(VerifyConsistency(5, 1, r5, r1, {}).ok());
  CHECK_FALSE(VerifyConsistency(5, 5, r5, r5, {r5}).ok());
  CHECK_FALSE(VerifyConsistency(5, 5, r5, r1, {}).ok());
  CHECK(VerifyConsistency(5, 5, r5, r5, {}).ok());
  CHECK_FALSE(VerifyConsistency(1, 5, r1, r5, {}).ok());

  CHECK_FALSE(ConsistencyProofFromNodes(SourceFor(5), 0, 5).ok());
  CHECK_FALSE(ConsistencyProofFromNodes(SourceFor(5), 6, 5).ok());
  Result<std::vector<Hash>> same = ConsistencyProofFromNodes(SourceFor(5), 5, 5);
  REQUIRE(same.ok());
  CHECK(same->empty());
}

}  // namespace
}  // namespace consentd::ledger
