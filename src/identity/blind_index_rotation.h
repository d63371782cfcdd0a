// Blind-index key rotation: re-indexes every identifier under a new
// blind-index key. The new index is computed from the identifier's
// normalized value, which is decrypted from the vault (the only place it
// exists), so no plaintext is kept anywhere but in memory for the batch.
// Restartable exactly like the KEK rotation (src/vault/key_rotation.h); while
// it runs, lookups try every key of the ring, so every identifier stays
// resolvable. Identifiers of shredded subjects are gone and need nothing.
//
// Thread-safety: run at most one rotation at a time; processes that loaded
// the old ring must reopen their SubjectRegistry afterwards.
#ifndef CONSENTD_IDENTITY_BLIND_INDEX_ROTATION_H_
#define CONSENTD_IDENTITY_BLIND_INDEX_ROTATION_H_

#include "src/base/clock.h"
#include "src/base/result.h"
#include "src/vault/key_directory.h"
#include "src/vault/key_rotation.h"
#include "src/vault/ledger_writer.h"
#include "src/vault/sqlite_database.h"
#include "src/vault/vault.h"

namespace consentd::identity {

// `db` and `writer` reach the same database; `vault` opens the subjects'
// data keys (its KEK ring must hold every KEK that rows reference).
// Errors: those of the key directory and database; kCorruption when a
// sealed identifier fails to open.
Result<vault::RotationProgress> RotateBlindIndexKey(vault::Database& db, vault::LedgerWriter& writer,
                                                    const vault::Vault& vault, const vault::KeyDirectory& keys,
                                                    const Clock& clock, const vault::RotationOptions& options);

}  // namespace consentd::identity

#endif  // CONSENTD_IDENTITY_BLIND_INDEX_ROTATION_H_
