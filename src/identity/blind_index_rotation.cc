#include "src/identity/blind_index_rotation.h"

#include <map>
#include <optional>
#include <vector>

#include "src/identity/blind_index.h"
#include "src/identity/schema.h"
#include "src/vault/cipher.h"

namespace consentd::identity {

using domain::Sid;
using vault::Stmt;

Result<vault::RotationProgress> RotateBlindIndexKey(vault::Database& db, vault::LedgerWriter& writer,
                                                    const vault::Vault& vault, const vault::KeyDirectory& keys,
                                                    const Clock& clock, const vault::RotationOptions& options) {
  vault::RotationSteps steps;
  steps.count_remaining = [&db](uint32_t current) -> Result<uint64_t> {
    std::unique_lock<std::mutex> lock = db.Lock();
    Result<Stmt> stmt = db.Cached("SELECT COUNT(*) FROM identity_identifiers WHERE key_id <> ?");
    if (!stmt.ok()) return stmt.status();
    stmt->Bind(1, static_cast<int64_t>(current));
    Result<bool> row = stmt->Step();
    if (!row.ok()) return row.status();
    return static_cast<uint64_t>(stmt->Int(0));
  };
  steps.rewrite_batch = [&db, &writer, &vault](const vault::KeyRing& ring, uint64_t limit) -> Result<uint64_t> {
    struct Row {
      std::string old_bidx;
      uint32_t old_key_id = 0;
      Sid owner;
      std::string kind, qualifier, sealed;
      KeyedBlindIndex bidx;
      std::optional<KeyedBlindIndex> base;
    };
    std::vector<Row> rows;
    {
      std::unique_lock<std::mutex> lock = db.Lock();
      Result<Stmt> stmt = db.Cached(
          "SELECT bidx, key_id, owner_sid, kind, qualifier, sealed FROM identity_identifiers "
          "WHERE key_id <> ? LIMIT ?");
      if (!stmt.ok()) return stmt.status();
      stmt->Bind(1, static_cast<int64_t>(ring.current().id)).Bind(2, static_cast<int64_t>(limit));
      for (;;) {
        Result<bool> row = stmt->Step();
        if (!row.ok()) return row.status();
        if (!*row) break;
        Row r;
        r.old_bidx = stmt->Blob(0);
        r.old_key_id = static_cast<uint32_t>(stmt->Int(1));
        Result<Sid> owner = Sid::FromBytes(AsBytes(stmt->Blob(2)));
        if (!owner.ok()) return Status::Corruption("identity_identifiers holds a malformed sid");
        r.owner = *owner;
        r.kind = stmt->Text(3);
        r.qualifier = stmt->Text(4);
        r.sealed = stmt->Blob(5);
        rows.push_back(std::move(r));
      }
    }
    if (rows.empty()) return uint64_t{0};
    BlindIndexer indexer(ring);
    std::map<Sid, vault::DataKey> data_keys;
    for (Row& r : rows) {
      auto it = data_keys.find(r.owner);
      if (it == data_keys.end()) {
        Result<vault::DataKey> key = vault.SubjectKey(r.owner);
        if (!key.ok()) return key.status();
        it = data_keys.emplace(r.owner, *key).first;
      }
      Result<std::string> value =
          vault::Open(it->second.bytes, r.owner, IdentifierSealPurpose(r.kind, r.qualifier), r.sealed);
      if (!value.ok()) return value.status().WithContext(r.kind + " identifier");
      Result<domain::IdentifierKind> kind = domain::IdentifierKind::Parse(r.kind);
      if (!kind.ok()) return Status::Corruption("identity_identifiers holds an unknown kind");
      domain::NormalizedIdentifier id{*kind, r.qualifier, std::move(*value)};
      r.bidx = indexer.Current(id);
      if (kind->type() == domain::IdentifierType::kEmail && StoresEmailBase(id.value)) {
        r.base = indexer.CurrentOf(EmailBaseInput(id.value));
      }
    }
    const uint32_t to = ring.current().id;
    const uint64_t n = rows.size();
    Status s = writer.Write({}, [&rows, to, n](sqlite3* hdb, std::span<const ledger::AppendedEntry>) -> Status {
      Result<Stmt> stmt = Stmt::Prepare(
          hdb, "UPDATE identity_identifiers SET bidx = ?, key_id = ?, base_bidx = ? WHERE bidx = ? AND key_id = ?");
      if (!stmt.ok()) return stmt.status();
      for (const Row& r : rows) {
        // A row shredded meanwhile simply matches nothing.
        stmt->Bind(1, ByteView(r.bidx.bidx.data(), r.bidx.bidx.size())).Bind(2, static_cast<int64_t>(to));
        if (r.base) {
          stmt->Bind(3, ByteView(r.base->bidx.data(), r.base->bidx.size()));
        } else {
          stmt->BindNull(3);
        }
        stmt->Bind(4, AsBytes(r.old_bidx)).Bind(5, static_cast<int64_t>(r.old_key_id));
        Status run = stmt->Run();
        if (!run.ok()) return run;
        stmt->Reset();
      }
      return vault::RecordRotationBatch(hdb, vault::KeyDirectory::kBlindIndex, to, n);
    });
    if (!s.ok()) return s;
    return n;
  };
  return vault::RunRotation(vault::KeyDirectory::kBlindIndex, db, writer, keys, clock, options, steps);
}

}  // namespace consentd::identity
