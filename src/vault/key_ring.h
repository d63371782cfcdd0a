// Key and KeyRing: the 32-byte secrets of one purpose (the key-encryption key
// or the blind-index key), each with the small integer id that rows store to
// say which key they were made with. The current key is the one with the
// highest id; older keys stay in the ring while rows still reference them
// (during and after a rotation), so that nothing becomes unreadable.
//
// Thread-safety: value types.
#ifndef CONSENTD_VAULT_KEY_RING_H_
#define CONSENTD_VAULT_KEY_RING_H_

#include <array>
#include <cstddef>
#include <cstdint>
#include <vector>

namespace consentd::vault {

struct Key {
  static constexpr size_t kSize = 32;
  uint32_t id = 0;  // >= 1
  std::array<uint8_t, kSize> bytes{};

  Key() = default;
  Key(uint32_t key_id, const std::array<uint8_t, kSize>& key_bytes) : id(key_id), bytes(key_bytes) {}
  Key(const Key&) = default;
  Key& operator=(const Key&) = default;
  ~Key();  // wipes the bytes
};

class KeyRing {
 public:
  KeyRing() = default;
  // REQUIRES: keys non-empty with distinct ids.
  explicit KeyRing(std::vector<Key> keys);

  bool empty() const { return keys_.empty(); }
  // REQUIRES: !empty().
  const Key& current() const { return keys_.back(); }
  // nullptr when the ring has no key with this id.
  const Key* Find(uint32_t id) const;
  // Sorted by id, current last.
  const std::vector<Key>& keys() const { return keys_; }

 private:
  std::vector<Key> keys_;
};

}  // namespace consentd::vault

#endif  // CONSENTD_VAULT_KEY_RING_H_
