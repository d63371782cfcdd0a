#include "src/vault/cipher.h"

#include <sodium.h>

#include <cstring>

namespace consentd::vault {
namespace {

constexpr std::string_view kSubjectKeyPurpose = "subject-key";

std::string AssociatedData(const domain::Sid& sid, std::string_view purpose) {
  std::string ad(AsChars(sid.bytes()));
  ad += purpose;
  return ad;
}

}  // namespace

DataKey::~DataKey() { sodium_memzero(bytes.data(), bytes.size()); }

DataKey DataKey::Generate() {
  DataKey k;
  crypto_aead_xchacha20poly1305_ietf_keygen(k.bytes.data());
  return k;
}

std::string Seal(const std::array<uint8_t, 32>& key, const domain::Sid& sid, std::string_view purpose,
                 std::string_view plaintext) {
  static_assert(crypto_aead_xchacha20poly1305_ietf_NPUBBYTES == kNonceSize);
  static_assert(crypto_aead_xchacha20poly1305_ietf_ABYTES == kTagSize);
  std::string ad = AssociatedData(sid, purpose);
  std::string out(kNonceSize + plaintext.size() + kTagSize, '\0');
  auto* nonce = reinterpret_cast<unsigned char*>(out.data());
  randombytes_buf(nonce, kNonceSize);
  unsigned long long ct_len = 0;
  crypto_aead_xchacha20poly1305_ietf_encrypt(
      nonce + kNonceSize, &ct_len, reinterpret_cast<const unsigned char*>(plaintext.data()), plaintext.size(),
      reinterpret_cast<const unsigned char*>(ad.data()), ad.size(), nullptr, nonce, key.data());
  out.resize(kNonceSize + ct_len);
  return out;
}

Result<std::string> Open(const std::array<uint8_t, 32>& key, const domain::Sid& sid, std::string_view purpose,
                         std::string_view sealed) {
  if (sealed.size() < kNonceSize + kTagSize) {
    return Status::Corruption("vault: sealed value for sid " + sid.ToHex() + " (" + std::string(purpose) +
                              ") is truncated");
  }
  std::string ad = AssociatedData(sid, purpose);
  std::string out(sealed.size() - kNonceSize - kTagSize, '\0');
  const auto* nonce = reinterpret_cast<const unsigned char*>(sealed.data());
  unsigned long long pt_len = 0;
  int rc = crypto_aead_xchacha20poly1305_ietf_decrypt(
      reinterpret_cast<unsigned char*>(out.data()), &pt_len, nullptr, nonce + kNonceSize,
      sealed.size() - kNonceSize, reinterpret_cast<const unsigned char*>(ad.data()), ad.size(), nonce, key.data());
  if (rc != 0) {
    return Status::Corruption("vault: authentication failed for sid " + sid.ToHex() + " (" +
                              std::string(purpose) +
                              "): wrong key, tampered ciphertext, or another subject's or purpose's data");
  }
  out.resize(pt_len);
  return out;
}

std::string WrapDataKey(const Key& kek, const domain::Sid& sid, const DataKey& data_key) {
  return Seal(kek.bytes, sid, kSubjectKeyPurpose,
              std::string_view(reinterpret_cast<const char*>(data_key.bytes.data()), data_key.bytes.size()));
}

Result<DataKey> UnwrapDataKey(const Key& kek, const domain::Sid& sid, std::string_view wrapped) {
  Result<std::string> raw = Open(kek.bytes, sid, kSubjectKeyPurpose, wrapped);
  if (!raw.ok()) return raw.status().WithContext("subject key (kek id " + std::to_string(kek.id) + ")");
  if (raw->size() != 32) return Status::Corruption("vault: subject key of sid " + sid.ToHex() + " is not 32 bytes");
  DataKey k;
  std::memcpy(k.bytes.data(), raw->data(), 32);
  sodium_memzero(raw->data(), raw->size());
  return k;
}

}  // namespace consentd::vault
