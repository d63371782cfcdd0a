#include "src/vault/key_ring.h"

#include <sodium.h>

#include <algorithm>

namespace consentd::vault {

Key::~Key() { sodium_memzero(bytes.data(), bytes.size()); }

KeyRing::KeyRing(std::vector<Key> keys) : keys_(std::move(keys)) {
  std::sort(keys_.begin(), keys_.end(), [](const Key& a, const Key& b) { return a.id < b.id; });
}

const Key* KeyRing::Find(uint32_t id) const {
  for (const Key& k : keys_) {
    if (k.id == id) return &k;
  }
  return nullptr;
}

}  // namespace consentd::vault
