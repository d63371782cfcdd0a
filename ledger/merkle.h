// RFC 6962 / RFC 9162 Merkle tree algorithms over SHA-256: leaf and node
// hashes, roots and proofs computed from stored perfect-subtree hashes, and
// proof verification. See docs/ledger-format.md §4 and
// ../shared/reference/ledger.md §1.
//
// A perfect subtree (level l, index k) covers leaves [k*2^l, (k+1)*2^l).
//
// Thread-safety: pure functions; NodeSource implementations say their own.
#ifndef CONSENTD_LEDGER_MERKLE_H_
#define CONSENTD_LEDGER_MERKLE_H_

#include <cstdint>
#include <functional>
#include <vector>

#include "src/base/result.h"
#include "src/base/sha256.h"

namespace consentd::ledger {

// SHA-256(0x00 || entry).
Hash LeafHash(ByteView entry);
// SHA-256(0x01 || left || right).
Hash NodeHash(const Hash& left, const Hash& right);
// SHA-256 of the empty string: the root of the empty tree.
Hash EmptyRoot();

// Reads stored perfect-subtree hashes.
using NodeSource = std::function<Result<Hash>(int level, uint64_t index)>;

// MTH(D[begin:end]) from stored perfect subtrees. REQUIRES begin < end.
Result<Hash> SubtreeHash(const NodeSource& nodes, uint64_t begin, uint64_t end);
// Root of the tree of `size` leaves (EmptyRoot() for 0).
Result<Hash> RootFromNodes(const NodeSource& nodes, uint64_t size);
// PATH(index, D[size]). REQUIRES index < size.
Result<std::vector<Hash>> InclusionProofFromNodes(const NodeSource& nodes, uint64_t index, uint64_t size);
// PROOF(first, D[second]). REQUIRES 0 < first <= second.
Result<std::vector<Hash>> ConsistencyProofFromNodes(const NodeSource& nodes, uint64_t first, uint64_t second);

// RFC 9162 §2.1.3.2 with strict length checks. OK when the proof verifies;
// kInvalidArgument (with the reason) otherwise.
Status VerifyInclusion(uint64_t index, uint64_t size, const Hash& leaf_hash,
                       const std::vector<Hash>& proof, const Hash& root);
// RFC 9162 §2.1.4.2. first == 0 is rejected; first == second needs an empty
// proof and equal roots.
Status VerifyConsistency(uint64_t first, uint64_t second, const Hash& first_root,
                         const Hash& second_root, const std::vector<Hash>& proof);

// The right edge of a tree being built leaf by leaf (a "compact range"):
// the roots of the perfect subtrees for the set bits of size(), largest
// first. Appending a leaf reports the perfect subtrees it completes.
//
// Thread-safety: not thread-safe; it is a value and cheap to copy.
class TreeFrontier {
 public:
  uint64_t size() const { return size_; }

  // Appends a leaf. `completed` receives, in order, the hashes of the perfect
  // subtrees this leaf completes: level 0 (the leaf itself), then level 1 if
  // the leaf's index is odd, and so on. This is exactly the set of nodes the
  // ledger stores for the leaf (docs/ledger-format.md §5).
  void Append(const Hash& leaf_hash, std::vector<Hash>* completed = nullptr);

  // Root of the current tree.
  Hash Root() const;

  const std::vector<Hash>& hashes() const { return hashes_; }
  // Rebuilds a frontier from the perfect subtrees of `size` (largest first).
  static Result<TreeFrontier> FromNodes(const NodeSource& nodes, uint64_t size);

 private:
  uint64_t size_ = 0;
  std::vector<Hash> hashes_;  // one per set bit of size_, largest subtree first
};

}  // namespace consentd::ledger

#endif  // CONSENTD_LEDGER_MERKLE_H_
