// Vault: per-subject data keys (random, wrapped under the key-encryption key)
// and the evidence records sealed under them (IP, user agent, form URL,
// notice version...). Ledger entries refer to a record only through its
// commitment, SHA-256(nonce || ct); destroying the subject's key (Shred)
// makes every ciphertext of the subject unreadable for good.
//
// Tables (created by EnsureSchema): vault_subject_keys, vault_records,
// vault_key_rotations. See docs/identity.md.
//
// Writes are static functions that run inside a LedgerWriter hook on the
// hook's connection; reads go through the Database. Thread-safety:
// thread-safe; read methods take the Database lock themselves, so callers
// must not hold it.
#ifndef CONSENTD_VAULT_VAULT_H_
#define CONSENTD_VAULT_VAULT_H_

#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "src/base/result.h"
#include "src/base/sha256.h"
#include "src/domain/sid.h"
#include "src/vault/cipher.h"
#include "src/vault/key_ring.h"
#include "src/vault/sqlite_database.h"

struct sqlite3;

namespace consentd::vault {

// A subject key ready to be stored: the clear key (for sealing in the same
// transaction) and its wrapped form.
struct NewSubjectKey {
  domain::Sid sid;
  DataKey key;
  uint32_t kek_id = 0;
  std::string wrapped;
};

// A record sealed for a subject, not yet stored.
struct SealedRecord {
  std::string label;   // [a-z0-9_.-]{1,64}, e.g. "consent.ip"
  std::string sealed;  // nonce || ct
  Hash commitment{};   // SHA-256(sealed): what a ledger entry carries
};

class Vault {
 public:
  // `db` must outlive the vault. REQUIRES: kek non-empty.
  Vault(Database& db, KeyRing kek) : db_(db), kek_(std::move(kek)) {}
  Vault(const Vault&) = delete;
  Vault& operator=(const Vault&) = delete;

  // Creates the vault tables if missing and turns on secure_delete for `db`.
  // Runs inside a hook.
  static Status EnsureSchema(sqlite3* db);

  // A fresh random data key for `sid`, wrapped under the current KEK. No I/O.
  NewSubjectKey MakeSubjectKey(const domain::Sid& sid) const;

  // The data key of `sid`. kNotFound when the subject has no key (never
  // created, or shredded); kFailedPrecondition when its KEK id is not in the
  // key ring; kCorruption when the wrapped key fails to open.
  Result<DataKey> SubjectKey(const domain::Sid& sid) const;

  // Seals `plaintext` for `sid` under its data key; store the result with
  // InsertRecord inside the same transaction as the ledger entry that
  // carries its commitment. kInvalidArgument for a bad label.
  Result<SealedRecord> SealRecord(const domain::Sid& sid, std::string_view label, std::string_view plaintext) const;
  // The same with the subject's data key given: for a subject created in
  // the same transaction, whose key row is not readable yet.
  static Result<SealedRecord> SealRecordWith(const DataKey& key, const domain::Sid& sid, std::string_view label,
                                             std::string_view plaintext);

  // The plaintext of record `id`. kNotFound when it does not exist (or was
  // shredded); errors of SubjectKey; kCorruption when it fails to open.
  Result<std::string> OpenRecord(int64_t id) const;

  // --- Inside a LedgerWriter hook -------------------------------------
  static Status InsertSubjectKey(sqlite3* db, const NewSubjectKey& key);
  // The same for many keys, with one prepared statement.
  static Status InsertSubjectKeys(sqlite3* db, std::span<const NewSubjectKey> keys);
  // Returns the new record's id.
  static Result<int64_t> InsertRecord(sqlite3* db, const domain::Sid& sid, const SealedRecord& record,
                                      int64_t now_millis);
  // Deletes the subject's wrapped key and all its records.
  // REQUIRES: secure_delete is on for `db` (EnsureSchema does it).
  static Status DeleteSubject(sqlite3* db, const domain::Sid& sid);

  const KeyRing& kek() const { return kek_; }

 private:
  Database& db_;
  const KeyRing kek_;
};

}  // namespace consentd::vault

#endif  // CONSENTD_VAULT_VAULT_H_
