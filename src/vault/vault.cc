#include "src/vault/vault.h"

namespace consentd::vault {
namespace {

constexpr const char* kSchema = R"sql(
CREATE TABLE IF NOT EXISTS vault_subject_keys(
  sid     BLOB PRIMARY KEY,     -- 16 bytes
  kek_id  INTEGER NOT NULL,     -- id of the key-encryption key that wrapped it
  wrapped BLOB NOT NULL         -- nonce || XChaCha20-Poly1305(data key)
) WITHOUT ROWID;
-- No index on kek_id (there was one, vault_subject_keys_by_kek): KEK
-- rotation asks for kek_id <> current, which no index answers (SQLite walks
-- the table in sid order), while every new subject paid an insert into it.
-- Dropped from older files.
DROP INDEX IF EXISTS vault_subject_keys_by_kek;
CREATE TABLE IF NOT EXISTS vault_records(
  id         INTEGER PRIMARY KEY,
  sid        BLOB NOT NULL,
  label      TEXT NOT NULL,
  sealed     BLOB NOT NULL,     -- nonce || ct, under the subject's data key
  commitment BLOB NOT NULL,     -- SHA-256(sealed)
  created_ms INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS vault_records_by_sid ON vault_records(sid);
CREATE TABLE IF NOT EXISTS vault_key_rotations(
  secret      TEXT NOT NULL,    -- 'kek' or 'blind-index'
  to_key_id   INTEGER NOT NULL,
  started_ms  INTEGER NOT NULL,
  finished_ms INTEGER,          -- NULL while in progress
  rows_done   INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY(secret, to_key_id)
);
)sql";

bool ValidLabel(std::string_view label) {
  if (label.empty() || label.size() > 64) return false;
  for (char c : label) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '.' || c == '-';
    if (!ok) return false;
  }
  return true;
}

std::string RecordPurpose(std::string_view label) { return "record:" + std::string(label); }

}  // namespace

Status Vault::EnsureSchema(sqlite3* db) {
  Status s = Exec(db, "PRAGMA secure_delete=ON;");
  if (!s.ok()) return s;
  return Exec(db, kSchema);
}

NewSubjectKey Vault::MakeSubjectKey(const domain::Sid& sid) const {
  NewSubjectKey k;
  k.sid = sid;
  k.key = DataKey::Generate();
  k.kek_id = kek_.current().id;
  k.wrapped = WrapDataKey(kek_.current(), sid, k.key);
  return k;
}

Result<DataKey> Vault::SubjectKey(const domain::Sid& sid) const {
  uint32_t kek_id = 0;
  std::string wrapped;
  {
    std::unique_lock<std::mutex> lock = db_.Lock();
    Result<Stmt> stmt = db_.Cached("SELECT kek_id, wrapped FROM vault_subject_keys WHERE sid = ?");
    if (!stmt.ok()) return stmt.status();
    stmt->Bind(1, sid.bytes());
    Result<bool> row = stmt->Step();
    if (!row.ok()) return row.status();
    if (!*row) return Status::NotFound("subject " + sid.ToHex() + " has no data key (unknown or shredded)");
    kek_id = static_cast<uint32_t>(stmt->Int(0));
    wrapped = stmt->Blob(1);
  }
  const Key* kek = kek_.Find(kek_id);
  if (kek == nullptr) {
    return Status::FailedPrecondition("subject " + sid.ToHex() + " is wrapped under kek id " +
                                      std::to_string(kek_id) + ", which is not in the key directory");
  }
  return UnwrapDataKey(*kek, sid, wrapped);
}

Result<SealedRecord> Vault::SealRecord(const domain::Sid& sid, std::string_view label,
                                       std::string_view plaintext) const {
  if (!ValidLabel(label)) return Status::InvalidArgument("vault record label must match [a-z0-9_.-]{1,64}");
  Result<DataKey> key = SubjectKey(sid);
  if (!key.ok()) return key.status();
  return SealRecordWith(*key, sid, label, plaintext);
}

Result<SealedRecord> Vault::SealRecordWith(const DataKey& key, const domain::Sid& sid, std::string_view label,
                                           std::string_view plaintext) {
  if (!ValidLabel(label)) return Status::InvalidArgument("vault record label must match [a-z0-9_.-]{1,64}");
  SealedRecord r;
  r.label = std::string(label);
  r.sealed = Seal(key.bytes, sid, RecordPurpose(label), plaintext);
  r.commitment = Commitment(r.sealed);
  return r;
}

Result<std::string> Vault::OpenRecord(int64_t id) const {
  domain::Sid sid;
  std::string label, sealed;
  {
    std::unique_lock<std::mutex> lock = db_.Lock();
    Result<Stmt> stmt = db_.Cached("SELECT sid, label, sealed FROM vault_records WHERE id = ?");
    if (!stmt.ok()) return stmt.status();
    stmt->Bind(1, id);
    Result<bool> row = stmt->Step();
    if (!row.ok()) return row.status();
    if (!*row) return Status::NotFound("vault record " + std::to_string(id) + " does not exist");
    Result<domain::Sid> s = domain::Sid::FromBytes(AsBytes(stmt->Blob(0)));
    if (!s.ok()) return Status::Corruption("vault record " + std::to_string(id) + " has a malformed sid");
    sid = *s;
    label = stmt->Text(1);
    sealed = stmt->Blob(2);
  }
  Result<DataKey> key = SubjectKey(sid);
  if (!key.ok()) return key.status();
  return Open(key->bytes, sid, RecordPurpose(label), sealed);
}

Status Vault::InsertSubjectKey(sqlite3* db, const NewSubjectKey& key) {
  return InsertSubjectKeys(db, std::span<const NewSubjectKey>(&key, 1));
}

Status Vault::InsertSubjectKeys(sqlite3* db, std::span<const NewSubjectKey> keys) {
  Result<Stmt> stmt = Stmt::Prepare(db, "INSERT INTO vault_subject_keys(sid, kek_id, wrapped) VALUES(?, ?, ?)");
  if (!stmt.ok()) return stmt.status();
  for (const NewSubjectKey& key : keys) {
    stmt->Bind(1, key.sid.bytes()).Bind(2, static_cast<int64_t>(key.kek_id)).Bind(3, AsBytes(key.wrapped));
    Status s = stmt->Run();
    if (!s.ok()) return s;
    stmt->Reset();
  }
  return Status::Ok();
}

Result<int64_t> Vault::InsertRecord(sqlite3* db, const domain::Sid& sid, const SealedRecord& record,
                                    int64_t now_millis) {
  Result<Stmt> stmt = Stmt::Prepare(
      db, "INSERT INTO vault_records(sid, label, sealed, commitment, created_ms) VALUES(?, ?, ?, ?, ?) RETURNING id");
  if (!stmt.ok()) return stmt.status();
  stmt->Bind(1, sid.bytes())
      .BindText(2, record.label)
      .Bind(3, AsBytes(record.sealed))
      .Bind(4, AsBytes(record.commitment))
      .Bind(5, now_millis);
  Result<bool> row = stmt->Step();
  if (!row.ok()) return row.status();
  if (!*row) return Status::Internal("vault record insert returned no id");
  int64_t id = stmt->Int(0);
  Status s = stmt->Run();
  if (!s.ok()) return s;
  return id;
}

Status Vault::DeleteSubject(sqlite3* db, const domain::Sid& sid) {
  for (const char* sql : {"DELETE FROM vault_subject_keys WHERE sid = ?", "DELETE FROM vault_records WHERE sid = ?"}) {
    Result<Stmt> stmt = Stmt::Prepare(db, sql);
    if (!stmt.ok()) return stmt.status();
    stmt->Bind(1, sid.bytes());
    Status s = stmt->Run();
    if (!s.ok()) return s;
  }
  return Status::Ok();
}

}  // namespace consentd::vault
