// SHA-256, the hash of the ledger (RFC 6962) and of commitments.
//
// Backed by OpenSSL's SHA-256, which uses the CPU's SHA extensions where they
// exist; docs/benchmarks.md compares it with libsodium's on this machine.
//
// Thread-safety: the free functions are thread-safe; a Sha256 object is not.
#ifndef CONSENTD_BASE_SHA256_H_
#define CONSENTD_BASE_SHA256_H_

#include <array>
#include <cstdint>
#include <memory>
#include <string_view>

#include "src/base/bytes.h"

namespace consentd {

using Hash = std::array<uint8_t, 32>;

inline ByteView AsBytes(const Hash& h) { return ByteView(h.data(), h.size()); }

// SHA-256 of `data`.
Hash Sha256Of(ByteView data);
inline Hash Sha256Of(std::string_view s) { return Sha256Of(AsBytes(s)); }

// SHA-256 of `prefix` byte followed by `data`, without copying `data`.
Hash Sha256WithPrefix(uint8_t prefix, ByteView data);

// SHA-256 of 0x01 || left || right (an RFC 6962 interior node).
Hash Sha256Node(const Hash& left, const Hash& right);

// Incremental hashing.
class Sha256 {
 public:
  Sha256();
  ~Sha256();
  Sha256(const Sha256&) = delete;
  Sha256& operator=(const Sha256&) = delete;

  void Update(ByteView data);
  void Update(std::string_view s) { Update(AsBytes(s)); }
  // Finishes; the object must not be used afterwards.
  Hash Finish();

 private:
  struct State;
  std::unique_ptr<State> state_;
};

}  // namespace consentd

#endif  // CONSENTD_BASE_SHA256_H_
