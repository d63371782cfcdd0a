// Certificate of erasure: a JSON document that proves, offline, what happened
// to an erasure request (docs/erasure.md "Certificates"):
//
//   {"format": "consentd.erasure-certificate/v1",
//    "body": {"request": {...}, "systems": [...], "entries": [{"seq", "entry", "proof"}...],
//             "checkpoint": "<signed note>", "issued_at": "..."},
//    "signature": {"algorithm": "ed25519", "key_name", "key_id", "value"}}
//
// The signature is Ed25519, by the log's checkpoint key, over
//
//   "consentd.erasure-certificate/v1" || 0x00 || body serialized compactly
//   (nlohmann::json::dump(): members sorted by name, no white space)
//
// The 0x00 byte makes the two uses of the key disjoint: a signed note's text
// is valid UTF-8 without control characters other than LF, so no checkpoint
// signature can ever be taken for a certificate signature or the reverse.
//
// Each entry carries its exact ledger bytes and an RFC 6962 inclusion proof
// against the signed checkpoint in the body, which covers all of them.
//
// Thread-safety: pure functions (BuildCertificate reads the ledger, which is
// thread-safe).
#ifndef CONSENTD_ERASURE_CERTIFICATE_H_
#define CONSENTD_ERASURE_CERTIFICATE_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "ledger/ledger.h"
#include "ledger/note.h"
#include "src/base/result.h"

namespace consentd::erasure {

struct ErasureRequest;

inline constexpr std::string_view kCertificateFormat = "consentd.erasure-certificate/v1";

// The bytes the certificate signature covers for a serialized body.
std::string CertificateMessage(std::string_view body_json);

// Builds and signs the certificate of `request` with proofs against `cp`.
// REQUIRES: cp covers every entry of the request.
Result<std::string> BuildCertificate(const ErasureRequest& request, const ledger::Ledger& ledger,
                                     const ledger::StoredCheckpoint& cp, const ledger::Signer& signer,
                                     int64_t issued_at_ms);

struct CertificateReport {
  std::string request_id;
  std::string state;
  uint64_t checkpoint_size = 0;
  size_t entries_verified = 0;
  std::vector<std::string> problems;  // each names what failed: "signature: ...", "entry 12: ..."
  bool ok() const { return problems.empty(); }
};

// Verifies a certificate offline: the signature with one of `keys` (Ed25519
// verifier keys of the log), the checkpoint's signature, every entry's
// inclusion proof, and that the entries and systems agree with the request.
// Returns the report (problems listed) or kInvalidArgument when the text is
// not a certificate at all.
Result<CertificateReport> VerifyCertificate(std::string_view text, const std::vector<ledger::VerifierKey>& keys);

}  // namespace consentd::erasure

#endif  // CONSENTD_ERASURE_CERTIFICATE_H_
