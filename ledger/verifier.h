// Verifier: re-derives everything a ledger claims from its stored bytes, the
// way an independent auditor would (docs/ledger-format.md §8): every entry's
// encoding, the hash chain, the stored subtree hashes, the Merkle tree, and
// every checkpoint's root and signature; and, given a checkpoint saved
// earlier, that the ledger still extends it (no truncation, rollback or fork).
//
// Thread-safety: the functions are thread-safe; the ledger must stay open.
#ifndef CONSENTD_LEDGER_VERIFIER_H_
#define CONSENTD_LEDGER_VERIFIER_H_

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "ledger/ledger.h"
#include "ledger/note.h"

namespace consentd::ledger {

struct VerifyOptions {
  // Keys trusted to sign the log's checkpoints; at least one is required to
  // check signatures.
  std::vector<VerifierKey> keys;
  // When set, checkpoints must carry this origin.
  std::string expected_origin;
  // Signed checkpoints saved earlier (note text); the ledger must extend each.
  std::vector<std::string> trusted_checkpoints;
  // Called now and then with (entries done, entries total).
  std::function<void(uint64_t, uint64_t)> progress;
};

struct VerifyReport {
  bool ok = false;
  uint64_t entries = 0;          // entries checked
  uint64_t checkpoints = 0;      // checkpoints whose root and signature verified
  std::optional<uint64_t> bad_seq;         // first bad entry, when an entry is to blame
  std::optional<uint64_t> bad_checkpoint;  // size of the bad checkpoint, when one is
  std::string problem;           // what is wrong (empty when ok)
  Hash root{};                   // root over all entries checked

  // One line: "OK: N entries, C checkpoints, root <b64>" or
  // "FAIL at seq S: <problem>".
  std::string Summary() const;
};

// Verifies the ledger as stored (entries and stored subtree hashes, stored
// checkpoints).
VerifyReport VerifyLedger(const Ledger& ledger, const VerifyOptions& options);

// Verifies an export file (JSON Lines, one entry per line) against the
// signed checkpoints in `checkpoint_notes` (for example the .checkpoint file
// written beside the export) and options.trusted_checkpoints.
VerifyReport VerifyExport(const std::string& path, const std::vector<std::string>& checkpoint_notes,
                          const VerifyOptions& options);

}  // namespace consentd::ledger

#endif  // CONSENTD_LEDGER_VERIFIER_H_
