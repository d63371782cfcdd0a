// Offline proof bundles ("receipts") in the c2sp.org/tlog-proof@v1 format,
// carrying the entry itself in the optional `extra` line
// (docs/ledger-format.md §13):
//
//   c2sp.org/tlog-proof@v1
//   extra <base64 of the exact entry bytes>
//   index <decimal>
//   <base64 inclusion proof hash>        (zero or more lines)
//   <blank line>
//   <signed checkpoint note, with any cosignatures>
//
// The extra data is not trusted: the verifier hashes it and checks the
// inclusion proof against the signed checkpoint, so a changed entry fails.
//
// Thread-safety: value types and pure functions.
#ifndef CONSENTD_LEDGER_BUNDLE_H_
#define CONSENTD_LEDGER_BUNDLE_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "ledger/checkpoint.h"
#include "ledger/note.h"
#include "src/base/result.h"
#include "src/base/sha256.h"

namespace consentd::ledger {

struct ProofBundle {
  bool has_entry = false;     // the extra line was present
  std::string entry;          // the entry bytes (from extra)
  uint64_t index = 0;
  std::vector<Hash> proof;
  std::string checkpoint_note;  // the full signed note, verbatim

  std::string Format() const;
};

// Parses strictly: the header line, an optional extra line, the index line
// (canonical decimal), proof lines (canonical base64 of 32 bytes, at most 64),
// one blank line, then a checkpoint note that parses. Rejects CR bytes and
// bundles over 1 MiB. kInvalidArgument naming the line otherwise.
Result<ProofBundle> ParseProofBundle(std::string_view text);

struct BundleVerifyOptions {
  VerifierKey log_key;                  // must sign the checkpoint (type 0x01)
  std::vector<VerifierKey> witness_keys;  // type 0x04 cosigners
  size_t min_cosignatures = 0;          // of witness_keys, each a distinct name
  // Require the entry to be a consentd ledger entry (docs/ledger-format.md §2)
  // whose seq is the bundle's index. Off only for other logs' bundles.
  bool require_ledger_entry = true;
};

struct BundleReport {
  bool ok = false;
  std::string problem;       // what failed (empty when ok)
  Checkpoint checkpoint;     // when the checkpoint parsed
  uint64_t index = 0;
  std::string entry;
  std::vector<std::string> cosigners;  // witness names whose cosignature verified

  // "OK: entry I is in the tree of size S (root R) signed by O; C cosignatures (names)"
  // or "FAIL: <problem>".
  std::string Summary() const;
};

// Verifies a bundle offline: the checkpoint's signature by the log key, the
// witnesses' cosignatures, that the bundle carries the entry, that the entry
// is well-formed with seq == index, and the inclusion proof against the
// checkpoint's root.
BundleReport VerifyProofBundle(std::string_view text, const BundleVerifyOptions& options);

}  // namespace consentd::ledger

#endif  // CONSENTD_LEDGER_BUNDLE_H_
