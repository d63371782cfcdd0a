// The vault's cryptography, in one place:
//
//   sealed  = nonce (24 random bytes) || XChaCha20-Poly1305(key, plaintext,
//             ad = sid (16 bytes) || purpose)          (ciphertext || 16-byte tag)
//   commitment(sealed) = SHA-256(sealed) = SHA-256(nonce || ct)
//
// A subject's data key is 32 random bytes (never derived, so it can be
// destroyed); it is stored wrapped, i.e. sealed under a key-encryption key
// with purpose "subject-key". Identifiers use purpose "identifier", evidence
// records "record:<label>". Binding the sid and the purpose into the
// associated data means a ciphertext moved to another subject or another
// column fails to open.
//
// Thread-safety: thread-safe.
#ifndef CONSENTD_VAULT_CIPHER_H_
#define CONSENTD_VAULT_CIPHER_H_

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

#include "src/base/bytes.h"
#include "src/base/result.h"
#include "src/base/sha256.h"
#include "src/domain/sid.h"
#include "src/vault/key_ring.h"

namespace consentd::vault {

inline constexpr size_t kNonceSize = 24;
inline constexpr size_t kTagSize = 16;

// A subject's data key. Wiped when destroyed.
struct DataKey {
  std::array<uint8_t, 32> bytes{};
  DataKey() = default;
  DataKey(const DataKey&) = default;
  DataKey& operator=(const DataKey&) = default;
  ~DataKey();
  // 32 fresh random bytes (crypto_aead_xchacha20poly1305_ietf_keygen).
  static DataKey Generate();
};

// Encrypts `plaintext` under `key` for subject `sid` and `purpose`.
std::string Seal(const std::array<uint8_t, 32>& key, const domain::Sid& sid, std::string_view purpose,
                 std::string_view plaintext);

// Decrypts what Seal produced. kCorruption ("authentication failed: wrong
// key, tampered ciphertext, or other subject/purpose") when the tag does not
// verify; kCorruption when `sealed` is shorter than nonce + tag.
Result<std::string> Open(const std::array<uint8_t, 32>& key, const domain::Sid& sid, std::string_view purpose,
                         std::string_view sealed);

// SHA-256(nonce || ct): what ledger entries carry instead of the data.
inline Hash Commitment(std::string_view sealed) { return Sha256Of(sealed); }

// Wraps / unwraps a subject's data key under a key-encryption key.
std::string WrapDataKey(const Key& kek, const domain::Sid& sid, const DataKey& data_key);
Result<DataKey> UnwrapDataKey(const Key& kek, const domain::Sid& sid, std::string_view wrapped);

}  // namespace consentd::vault

#endif  // CONSENTD_VAULT_CIPHER_H_
