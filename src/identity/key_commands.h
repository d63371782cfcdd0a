// The key operations behind `consentctl init` and `consentctl keys
// rotate-kek|rotate-bidx`, on a data directory whose ledger the caller has
// opened. Each makes sure the identity and vault tables exist first.
//
// Thread-safety: run while consentd is stopped (see key_rotation.h).
#ifndef CONSENTD_IDENTITY_KEY_COMMANDS_H_
#define CONSENTD_IDENTITY_KEY_COMMANDS_H_

#include <string>

#include "ledger/ledger.h"
#include "src/base/clock.h"
#include "src/base/result.h"
#include "src/vault/key_directory.h"
#include "src/vault/key_rotation.h"

namespace consentd::identity {

// Creates kek.key and blind-index.key in `keys` when missing (id 1).
Status InitIdentityKeys(const vault::KeyDirectory& keys);

// Rotates the key-encryption key of the database at `database_path` (the
// file `ledger` was opened on). See vault::RotateKek.
Result<vault::RotationProgress> RotateKek(const std::string& database_path, ledger::Ledger& ledger,
                                          const vault::KeyDirectory& keys, const vault::RotationOptions& options,
                                          const Clock& clock);

// Rotates the blind-index key. See RotateBlindIndexKey in
// blind_index_rotation.h.
Result<vault::RotationProgress> RotateBlindIndex(const std::string& database_path, ledger::Ledger& ledger,
                                                 const vault::KeyDirectory& keys,
                                                 const vault::RotationOptions& options, const Clock& clock);

}  // namespace consentd::identity

#endif  // CONSENTD_IDENTITY_KEY_COMMANDS_H_
