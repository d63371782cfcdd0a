// BlindIndexer: computes the keyed blind index of a normalized identifier,
// the only form in which identifiers are looked up:
//
//   bidx = BLAKE2b-256(key = K_bidx (32 bytes), in = BlindIndexInput())
//
// where BlindIndexInput() is "<kind>:<value>" (or "<kind>:<qualifier>
// <value>"), see src/domain/identifier_kind.h. Blind indexes live only in
// mutable lookup tables, never in ledger entries, logs or errors.
//
// An indexer holds every blind-index key of the key ring (the current one
// and, during a rotation, older ones still referenced by rows).
//
// Thread-safety: immutable after construction; thread-safe.
#ifndef CONSENTD_IDENTITY_BLIND_INDEX_H_
#define CONSENTD_IDENTITY_BLIND_INDEX_H_

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "src/base/result.h"
#include "src/domain/identifier_kind.h"
#include "src/vault/key_ring.h"

namespace consentd::identity {

using BlindIndex = std::array<uint8_t, 32>;

// A blind index together with the id of the key that made it.
struct KeyedBlindIndex {
  uint32_t key_id = 0;
  BlindIndex bidx{};
};

class BlindIndexer {
 public:
  // REQUIRES: keys is not empty.
  explicit BlindIndexer(vault::KeyRing keys) : keys_(std::move(keys)) {}

  // Under the current key.
  KeyedBlindIndex Current(const domain::NormalizedIdentifier& id) const;
  // Under key `key_id`; kNotFound if the ring has no such key.
  Result<KeyedBlindIndex> Under(uint32_t key_id, const domain::NormalizedIdentifier& id) const;
  // Under every key of the ring, current first.
  std::vector<KeyedBlindIndex> All(const domain::NormalizedIdentifier& id) const;
  // Of raw input bytes (the "email base" of plus-tag suggestions uses this).
  KeyedBlindIndex CurrentOf(std::string_view input) const;
  std::vector<KeyedBlindIndex> AllOf(std::string_view input) const;

  const vault::KeyRing& keys() const { return keys_; }

 private:
  vault::KeyRing keys_;
};

}  // namespace consentd::identity

#endif  // CONSENTD_IDENTITY_BLIND_INDEX_H_
