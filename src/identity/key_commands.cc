#include "src/identity/key_commands.h"

#include "src/identity/blind_index_rotation.h"
#include "src/identity/schema.h"
#include "src/vault/ledger_writer.h"
#include "src/vault/sqlite_database.h"
#include "src/vault/vault.h"

namespace consentd::identity {
namespace {

Result<std::unique_ptr<vault::Database>> OpenWithSchema(const std::string& database_path,
                                                        vault::LedgerWriter& writer) {
  Status s = writer.Write({}, [](sqlite3* db, std::span<const ledger::AppendedEntry>) { return EnsureSchema(db); });
  if (!s.ok()) return s.WithContext("create identity tables");
  return vault::Database::Open(database_path);
}

}  // namespace

Status InitIdentityKeys(const vault::KeyDirectory& keys) {
  Result<vault::KeyRing> kek = keys.LoadOrCreate(vault::KeyDirectory::kKek);
  if (!kek.ok()) return kek.status();
  return keys.LoadOrCreate(vault::KeyDirectory::kBlindIndex).status();
}

Result<vault::RotationProgress> RotateKek(const std::string& database_path, ledger::Ledger& ledger,
                                          const vault::KeyDirectory& keys, const vault::RotationOptions& options,
                                          const Clock& clock) {
  vault::LedgerAppender writer(ledger);
  Result<std::unique_ptr<vault::Database>> db = OpenWithSchema(database_path, writer);
  if (!db.ok()) return db.status();
  return vault::RotateKek(**db, writer, keys, clock, options);
}

Result<vault::RotationProgress> RotateBlindIndex(const std::string& database_path, ledger::Ledger& ledger,
                                                 const vault::KeyDirectory& keys,
                                                 const vault::RotationOptions& options, const Clock& clock) {
  vault::LedgerAppender writer(ledger);
  Result<std::unique_ptr<vault::Database>> db = OpenWithSchema(database_path, writer);
  if (!db.ok()) return db.status();
  Result<vault::KeyRing> kek = keys.Load(vault::KeyDirectory::kKek);
  if (!kek.ok()) return kek.status();
  vault::Vault vault(**db, std::move(*kek));
  return RotateBlindIndexKey(**db, writer, vault, keys, clock, options);
}

}  // namespace consentd::identity
