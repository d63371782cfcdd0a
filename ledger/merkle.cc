#include "ledger/merkle.h"

#include <bit>

#include "ledger/format.h"

namespace consentd::ledger {
namespace {

// Largest power of two strictly less than n. REQUIRES n >= 2.
uint64_t SplitPoint(uint64_t n) { return uint64_t{1} << (std::bit_width(n - 1) - 1); }

bool IsPerfectAligned(uint64_t begin, uint64_t end) {
  uint64_t n = end - begin;
  return std::has_single_bit(n) && (begin % n) == 0;
}

// PATH(m, D[begin:end]) appended to *out, leaf-to-root order.
Status Path(const NodeSource& nodes, uint64_t m, uint64_t begin, uint64_t end, std::vector<Hash>* out) {
  uint64_t n = end - begin;
  if (n == 1) return Status::Ok();
  uint64_t k = SplitPoint(n);
  if (m < k) {
    Status s = Path(nodes, m, begin, begin + k, out);
    if (!s.ok()) return s;
    Result<Hash> h = SubtreeHash(nodes, begin + k, end);
    if (!h.ok()) return h.status();
    out->push_back(*h);
  } else {
    Status s = Path(nodes, m - k, begin + k, end, out);
    if (!s.ok()) return s;
    Result<Hash> h = SubtreeHash(nodes, begin, begin + k);
    if (!h.ok()) return h.status();
    out->push_back(*h);
  }
  return Status::Ok();
}

// SUBPROOF(m, D[begin:end], b) appended to *out.
Status SubProof(const NodeSource& nodes, uint64_t m, uint64_t begin, uint64_t end, bool b,
                std::vector<Hash>* out) {
  uint64_t n = end - begin;
  if (m == n) {
    if (b) return Status::Ok();
    Result<Hash> h = SubtreeHash(nodes, begin, end);
    if (!h.ok()) return h.status();
    out->push_back(*h);
    return Status::Ok();
  }
  uint64_t k = SplitPoint(n);
  if (m <= k) {
    Status s = SubProof(nodes, m, begin, begin + k, b, out);
    if (!s.ok()) return s;
    Result<Hash> h = SubtreeHash(nodes, begin + k, end);
    if (!h.ok()) return h.status();
    out->push_back(*h);
  } else {
    Status s = SubProof(nodes, m - k, begin + k, end, false, out);
    if (!s.ok()) return s;
    Result<Hash> h = SubtreeHash(nodes, begin, begin + k);
    if (!h.ok()) return h.status();
    out->push_back(*h);
  }
  return Status::Ok();
}

}  // namespace

Hash LeafHash(ByteView entry) { return Sha256WithPrefix(kLeafHashPrefix, entry); }
Hash NodeHash(const Hash& left, const Hash& right) { return Sha256Node(left, right); }
Hash EmptyRoot() { return Sha256Of(ByteView()); }

Result<Hash> SubtreeHash(const NodeSource& nodes, uint64_t begin, uint64_t end) {
  if (begin >= end) return Status::InvalidArgument("empty subtree range");
  if (IsPerfectAligned(begin, end)) {
    int level = std::countr_zero(end - begin);
    return nodes(level, begin >> level);
  }
  uint64_t k = SplitPoint(end - begin);
  Result<Hash> left = SubtreeHash(nodes, begin, begin + k);
  if (!left.ok()) return left;
  Result<Hash> right = SubtreeHash(nodes, begin + k, end);
  if (!right.ok()) return right;
  return NodeHash(*left, *right);
}

Result<Hash> RootFromNodes(const NodeSource& nodes, uint64_t size) {
  if (size == 0) return EmptyRoot();
  return SubtreeHash(nodes, 0, size);
}

Result<std::vector<Hash>> InclusionProofFromNodes(const NodeSource& nodes, uint64_t index, uint64_t size) {
  if (index >= size) return Status::InvalidArgument("inclusion proof: index must be below size");
  std::vector<Hash> out;
  Status s = Path(nodes, index, 0, size, &out);
  if (!s.ok()) return s;
  return out;
}

Result<std::vector<Hash>> ConsistencyProofFromNodes(const NodeSource& nodes, uint64_t first, uint64_t second) {
  if (first == 0 || first > second) {
    return Status::InvalidArgument("consistency proof: need 0 < first <= second");
  }
  std::vector<Hash> out;
  if (first == second) return out;
  Status s = SubProof(nodes, first, 0, second, true, &out);
  if (!s.ok()) return s;
  return out;
}

Status VerifyInclusion(uint64_t index, uint64_t size, const Hash& leaf_hash, const std::vector<Hash>& proof,
                       const Hash& root) {
  if (size == 0) return Status::InvalidArgument("inclusion: empty tree has no entries");
  if (index >= size) return Status::InvalidArgument("inclusion: index beyond tree size");
  uint64_t fn = index;
  uint64_t sn = size - 1;
  Hash r = leaf_hash;
  for (const Hash& p : proof) {
    if (sn == 0) return Status::InvalidArgument("inclusion: proof too long");
    if ((fn & 1) == 1 || fn == sn) {
      r = NodeHash(p, r);
      if ((fn & 1) == 0) {
        while ((fn & 1) == 0 && fn != 0) {
          fn >>= 1;
          sn >>= 1;
        }
      }
    } else {
      r = NodeHash(r, p);
    }
    fn >>= 1;
    sn >>= 1;
  }
  if (sn != 0) return Status::InvalidArgument("inclusion: proof too short");
  if (r != root) return Status::InvalidArgument("inclusion: computed root does not match");
  return Status::Ok();
}

Status VerifyConsistency(uint64_t first, uint64_t second, const Hash& first_root, const Hash& second_root,
                         const std::vector<Hash>& proof) {
  if (first > second) return Status::InvalidArgument("consistency: first size is larger than second");
  if (first == 0) return Status::InvalidArgument("consistency: first size must be positive");
  if (first == second) {
    if (!proof.empty()) return Status::InvalidArgument("consistency: proof must be empty for equal sizes");
    if (first_root != second_root) return Status::InvalidArgument("consistency: roots differ at equal sizes");
    return Status::Ok();
  }
  if (proof.empty()) return Status::InvalidArgument("consistency: empty proof");
  std::vector<Hash> path;
  path.reserve(proof.size() + 1);
  if (std::has_single_bit(first)) path.push_back(first_root);
  path.insert(path.end(), proof.begin(), proof.end());
  uint64_t fn = first - 1;
  uint64_t sn = second - 1;
  while ((fn & 1) == 1) {
    fn >>= 1;
    sn >>= 1;
  }
  Hash fr = path[0];
  Hash sr = path[0];
  for (size_t i = 1; i < path.size(); ++i) {
    const Hash& c = path[i];
    if (sn == 0) return Status::InvalidArgument("consistency: proof too long");
    if ((fn & 1) == 1 || fn == sn) {
      fr = NodeHash(c, fr);
      sr = NodeHash(c, sr);
      if ((fn & 1) == 0) {
        while ((fn & 1) == 0 && fn != 0) {
          fn >>= 1;
          sn >>= 1;
        }
      }
    } else {
      sr = NodeHash(sr, c);
    }
    fn >>= 1;
    sn >>= 1;
  }
  if (sn != 0) return Status::InvalidArgument("consistency: proof too short");
  if (fr != first_root) return Status::InvalidArgument("consistency: first root does not match");
  if (sr != second_root) return Status::InvalidArgument("consistency: second root does not match");
  return Status::Ok();
}

void TreeFrontier::Append(const Hash& leaf_hash, std::vector<Hash>* completed) {
  if (completed) {
    completed->clear();
    completed->push_back(leaf_hash);
  }
  Hash h = leaf_hash;
  // Each trailing one bit of size_ is a perfect subtree on the right edge
  // with the same height as the one we carry: merge them.
  uint64_t s = size_;
  while (s & 1) {
    h = NodeHash(hashes_.back(), h);
    hashes_.pop_back();
    if (completed) completed->push_back(h);
    s >>= 1;
  }
  hashes_.push_back(h);
  ++size_;
}

Hash TreeFrontier::Root() const {
  if (hashes_.empty()) return EmptyRoot();
  Hash h = hashes_.back();
  for (size_t i = hashes_.size() - 1; i-- > 0;) h = NodeHash(hashes_[i], h);
  return h;
}

Result<TreeFrontier> TreeFrontier::FromNodes(const NodeSource& nodes, uint64_t size) {
  TreeFrontier f;
  uint64_t begin = 0;
  for (int level = 63; level >= 0; --level) {
    uint64_t width = uint64_t{1} << level;
    if (size & width) {
      Result<Hash> h = nodes(level, begin >> level);
      if (!h.ok()) return h.status();
      f.hashes_.push_back(*h);
      begin += width;
    }
  }
  f.size_ = size;
  return f;
}

}  // namespace consentd::ledger
