#include "src/identity/schema.h"

#include "src/identity/email.h"
#include "src/vault/sqlite_database.h"
#include "src/vault/vault.h"

namespace consentd::identity {
namespace {

constexpr const char* kSchema = R"sql(
CREATE TABLE IF NOT EXISTS identity_subjects(
  sid        BLOB PRIMARY KEY,
  state      INTEGER NOT NULL,       -- 0 active, 1 merged, 2 shredded
  created_ms INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS identity_aliases(
  sid           BLOB PRIMARY KEY,    -- a merged subject
  surviving_sid BLOB NOT NULL,       -- the subject it now resolves to (always a root)
  merged_ms     INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS identity_aliases_by_survivor ON identity_aliases(surviving_sid);
-- A rowid table with a unique index on bidx, not a WITHOUT ROWID table
-- keyed by bidx: blind indexes are random, so every batch of new identifiers
-- lands all over the key space, and a random-key B-tree holding the ~190-byte
-- rows rewrote most of its pages at each commit. Now the rows grow at the
-- table's end and only the narrow index (bidx, rowid) takes the random
-- inserts. Older files are migrated by MigrateIdentifiersToRowid (below).
CREATE TABLE IF NOT EXISTS identity_identifiers(
  id         INTEGER PRIMARY KEY,
  bidx       BLOB NOT NULL UNIQUE,   -- keyed BLAKE2b-256 of "<kind>:<value>"
  root_sid   BLOB NOT NULL,          -- the subject it resolves to
  owner_sid  BLOB NOT NULL,          -- the subject whose data key sealed `sealed`
  kind       TEXT NOT NULL,
  qualifier  TEXT NOT NULL,          -- shop / site / list id, or ''
  key_id     INTEGER NOT NULL,       -- blind-index key id
  sealed     BLOB NOT NULL,          -- normalized value, sealed (vault/cipher.h)
  base_bidx  BLOB,                   -- emails: blind index of the address without +tag
  created_ms INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS identity_identifiers_by_root ON identity_identifiers(root_sid);
-- No index on key_id (there was one, identity_identifiers_by_key): blind-index
-- rotation asks for key_id <> current, which no index answers (SQLite scans),
-- while every link paid a random insert into it. Dropped from older files.
DROP INDEX IF EXISTS identity_identifiers_by_key;
CREATE INDEX IF NOT EXISTS identity_identifiers_by_base ON identity_identifiers(base_bidx)
  WHERE base_bidx IS NOT NULL;
CREATE TABLE IF NOT EXISTS identity_reviews(
  id         TEXT PRIMARY KEY,       -- random, 16 hex digits
  sid_a      BLOB NOT NULL,
  sid_b      BLOB NOT NULL,
  reason     TEXT NOT NULL,
  state      TEXT NOT NULL,          -- open, approved, rejected, obsolete
  created_ms INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS identity_reviews_open ON identity_reviews(state);
)sql";

}  // namespace

std::string IdentifierSealPurpose(std::string_view kind, std::string_view qualifier) {
  return "identifier:" + std::string(kind) + ":" + std::string(qualifier);
}

bool StoresEmailBase(std::string_view canonical_email) { return EmailWithoutPlusTag(canonical_email).has_value(); }

std::string EmailBaseInput(std::string_view canonical_email) {
  std::optional<std::string> base = EmailWithoutPlusTag(canonical_email);
  return "email_base:" + (base ? *base : std::string(canonical_email));
}

// Files written before the rowid layout hold identity_identifiers as a
// WITHOUT ROWID table keyed by bidx (no `id` column). Copies its rows into
// the new layout, in the caller's transaction; the old table and its
// indexes are dropped (their pages are overwritten: secure_delete is on),
// and kSchema then builds the indexes on the new table. A no-op when the
// table is missing or already has `id`.
Status MigrateIdentifiersToRowid(sqlite3* db) {
  // Missing: 0 tables; already migrated: 1 table with an `id` column.
  Result<int64_t> old = vault::ScalarInt(
      db,
      "SELECT (SELECT count(*) FROM sqlite_schema WHERE type = 'table' AND name = 'identity_identifiers')"
      " - (SELECT count(*) FROM pragma_table_info('identity_identifiers') WHERE name = 'id')");
  if (!old.ok()) return old.status();
  if (*old == 0) return Status::Ok();
  return vault::RebuildTable(db, "identity_identifiers", kSchema,
                             "bidx, root_sid, owner_sid, kind, qualifier, key_id, sealed, base_bidx, created_ms",
                             "created_ms, bidx");
}

Status EnsureSchema(sqlite3* db) {
  Status s = vault::Vault::EnsureSchema(db);
  if (!s.ok()) return s;
  s = MigrateIdentifiersToRowid(db);
  if (!s.ok()) return s.WithContext("migrate identity_identifiers to a rowid table");
  return vault::Exec(db, kSchema);
}

}  // namespace consentd::identity
