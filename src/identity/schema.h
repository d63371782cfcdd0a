// The identity tables, in the data directory's main database next to the
// ledger (so that a link, merge or shred commits with its ledger entry):
//
//   identity_subjects     sid -> state (active, merged, shredded), created
//   identity_aliases      merged sid -> surviving sid (kept after shredding,
//                         so old sids still resolve); pseudonyms only
//   identity_identifiers  blind index -> root sid; owner sid; kind;
//                         qualifier; blind-index key id; the normalized value
//                         sealed under the owner's data key; base_bidx for
//                         plus-tag suggestions
//   identity_reviews      queued merge suggestions (two sids and a reason)
// plus the vault's tables (src/vault/vault.h). See docs/identity.md.
//
// Thread-safety: EnsureSchema runs inside a LedgerWriter hook.
#ifndef CONSENTD_IDENTITY_SCHEMA_H_
#define CONSENTD_IDENTITY_SCHEMA_H_

#include <string>
#include <string_view>

#include "src/base/status.h"

struct sqlite3;

namespace consentd::identity {

enum class SubjectState { kActive = 0, kMerged = 1, kShredded = 2 };

// The purpose (associated data after the sid) under which an identifier's
// normalized value is sealed: binds the value to its kind and qualifier.
std::string IdentifierSealPurpose(std::string_view kind, std::string_view qualifier);

// The blind-index input of an email's plus-tag base: "email_base:" followed
// by the canonical address without its +tag (or the address itself).
std::string EmailBaseInput(std::string_view canonical_email);

// Whether the identifier row of an email (canonical) stores the blind index
// of its +tag-less base (base_bidx): only when the address has a +tag. The
// plus-tag check finds the base address itself by its own blind index, so
// plain addresses, nearly all of them, add nothing to the base index, which
// takes its inserts at random pages (docs/identity.md §2).
bool StoresEmailBase(std::string_view canonical_email);

// Creates the identity and vault tables if missing and sets
// secure_delete=ON on `db`. Idempotent.
Status EnsureSchema(sqlite3* db);

}  // namespace consentd::identity

#endif  // CONSENTD_IDENTITY_SCHEMA_H_
