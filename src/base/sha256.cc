// OpenSSL 3 marks the SHA256_* functions deprecated in favour of EVP, but EVP
// adds a dispatch and an allocation per hash, which costs about a third of the
// time of a 65-byte node hash. The low-level functions remain supported in 3.x.
#define OPENSSL_API_COMPAT 0x10101000L
#include "src/base/sha256.h"

#include <openssl/sha.h>

namespace consentd {

struct Sha256::State {
  SHA256_CTX ctx;
};

// The one-shot SHA256() of OpenSSL 3 fetches the digest implementation on
// every call (locks and reference counts: about 235 ns of a 300 ns node
// hash, measured with perf in docs/benchmarks.md); the context functions do
// not.
Hash Sha256Of(ByteView data) {
  SHA256_CTX ctx;
  SHA256_Init(&ctx);
  SHA256_Update(&ctx, data.data(), data.size());
  Hash out;
  SHA256_Final(out.data(), &ctx);
  return out;
}

Hash Sha256WithPrefix(uint8_t prefix, ByteView data) {
  SHA256_CTX ctx;
  SHA256_Init(&ctx);
  SHA256_Update(&ctx, &prefix, 1);
  SHA256_Update(&ctx, data.data(), data.size());
  Hash out;
  SHA256_Final(out.data(), &ctx);
  return out;
}

Hash Sha256Node(const Hash& left, const Hash& right) {
  uint8_t buf[65];
  buf[0] = 0x01;
  for (int i = 0; i < 32; ++i) buf[1 + i] = left[i];
  for (int i = 0; i < 32; ++i) buf[33 + i] = right[i];
  SHA256_CTX ctx;
  SHA256_Init(&ctx);
  SHA256_Update(&ctx, buf, sizeof buf);
  Hash out;
  SHA256_Final(out.data(), &ctx);
  return out;
}

Sha256::Sha256() : state_(std::make_unique<State>()) { SHA256_Init(&state_->ctx); }
Sha256::~Sha256() = default;

void Sha256::Update(ByteView data) { SHA256_Update(&state_->ctx, data.data(), data.size()); }

Hash Sha256::Finish() {
  Hash out;
  SHA256_Final(out.data(), &state_->ctx);
  return out;
}

}  // namespace consentd
