// Key rotation, restartable: the key-encryption key (RotateKek rewraps every
// subject key) and, through the same driver, the blind-index key (see
// src/identity/blind_index_rotation.h).
//
// A rotation moves through these states; each arrow is durable on its own,
// so a crash anywhere leaves a state that the next call continues from:
//
//   idle --KeyDirectory::AddKey--> new key is current, rows still under old
//        --"vault.key_rotation_started" entry + vault_key_rotations row-->
//   rewriting (batches: rows moved to the new key + rows_done, one
//              transaction per batch)
//        --no row left under an old key: "vault.key_rotation_finished"
//          entry, finished_ms set--> idle (old key files kept unless
//          RotationOptions::retire_old_keys)
//
// A call while rows still reference an older key resumes instead of adding
// another key. Old keys stay loadable until retired, so every subject stays
// readable throughout. Rotation is an offline operation: processes that
// loaded the key ring before it started must reopen their Vault /
// SubjectRegistry afterwards.
//
// Thread-safety: run at most one rotation per secret at a time.
#ifndef CONSENTD_VAULT_KEY_ROTATION_H_
#define CONSENTD_VAULT_KEY_ROTATION_H_

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

#include "src/base/clock.h"
#include "src/base/result.h"
#include "src/vault/key_directory.h"
#include "src/vault/ledger_writer.h"
#include "src/vault/sqlite_database.h"

namespace consentd::vault {

struct RotationOptions {
  size_t batch_size = 256;     // rows per transaction
  uint64_t max_rows = 0;       // stop after this many rows (0: no limit); a later call resumes
  bool retire_old_keys = false;  // delete old key files once no row references them
};

struct RotationProgress {
  std::string secret;          // "kek" or "blind-index"
  uint32_t to_key_id = 0;      // the current key that rows are moved to
  uint64_t rows_this_run = 0;  // rows moved by this call
  uint64_t rows_remaining = 0; // rows still under an older key
  bool finished = false;       // no row left under an older key
};

// Rewraps every subject key under a new key-encryption key.
// `db` and `writer` must reach the same database file. Errors: those of the
// key directory and database; kFailedPrecondition when a row's KEK id is not
// in the key directory. Subject keys and data are unchanged (only the
// wrapping), so ciphertexts and ledger commitments stay valid.
Result<RotationProgress> RotateKek(Database& db, LedgerWriter& writer, const KeyDirectory& keys, const Clock& clock,
                                   const RotationOptions& options);

// --- The driver shared with the blind-index rotation --------------------

struct RotationSteps {
  // Rows not yet under `current_key_id`.
  std::function<Result<uint64_t>(uint32_t current_key_id)> count_remaining;
  // Moves up to `limit` rows to ring.current() in ONE LedgerWriter
  // transaction whose hook also calls RecordRotationBatch. Returns the rows
  // moved; 0 when none are left.
  std::function<Result<uint64_t>(const KeyRing& ring, uint64_t limit)> rewrite_batch;
};

Result<RotationProgress> RunRotation(std::string_view secret, Database& db, LedgerWriter& writer,
                                     const KeyDirectory& keys, const Clock& clock, const RotationOptions& options,
                                     const RotationSteps& steps);

// Inside a hook: adds `rows` to the progress row of (secret, to_key_id).
Status RecordRotationBatch(sqlite3* db, std::string_view secret, uint32_t to_key_id, uint64_t rows);

}  // namespace consentd::vault

#endif  // CONSENTD_VAULT_KEY_ROTATION_H_
