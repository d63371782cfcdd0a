#include "src/vault/key_rotation.h"

#include <algorithm>

#include "src/vault/cipher.h"

namespace consentd::vault {
namespace {

std::string Payload(std::string_view secret, uint32_t to_key_id, const std::string& extra = "") {
  return "{\"secret\":\"" + std::string(secret) + "\",\"to_key_id\":" + std::to_string(to_key_id) + extra + "}";
}

// True when a progress row exists for (secret, to_key_id) and is unfinished;
// sets *exists when a row exists at all.
Result<bool> RotationOpen(Database& db, std::string_view secret, uint32_t to_key_id, bool* exists) {
  std::unique_lock<std::mutex> lock = db.Lock();
  Result<Stmt> stmt = db.Cached("SELECT finished_ms FROM vault_key_rotations WHERE secret = ? AND to_key_id = ?");
  if (!stmt.ok()) return stmt.status();
  stmt->BindText(1, secret).Bind(2, static_cast<int64_t>(to_key_id));
  Result<bool> row = stmt->Step();
  if (!row.ok()) return row.status();
  *exists = *row;
  return *row && stmt->IsNull(0);
}

Status RecordStart(LedgerWriter& writer, std::string_view secret, uint32_t to_key_id, int64_t now) {
  std::string s(secret);
  return writer.Write({{"vault.key_rotation_started", Payload(secret, to_key_id)}},
                      [s, to_key_id, now](sqlite3* db, std::span<const ledger::AppendedEntry>) -> Status {
                        Result<Stmt> stmt = Stmt::Prepare(
                            db, "INSERT OR IGNORE INTO vault_key_rotations(secret, to_key_id, started_ms) "
                                "VALUES(?, ?, ?)");
                        if (!stmt.ok()) return stmt.status();
                        stmt->BindText(1, s).Bind(2, static_cast<int64_t>(to_key_id)).Bind(3, now);
                        return stmt->Run();
                      });
}

}  // namespace

Status RecordRotationBatch(sqlite3* db, std::string_view secret, uint32_t to_key_id, uint64_t rows) {
  Result<Stmt> stmt = Stmt::Prepare(
      db, "UPDATE vault_key_rotations SET rows_done = rows_done + ? WHERE secret = ? AND to_key_id = ?");
  if (!stmt.ok()) return stmt.status();
  stmt->Bind(1, static_cast<int64_t>(rows)).BindText(2, secret).Bind(3, static_cast<int64_t>(to_key_id));
  return stmt->Run();
}

Result<RotationProgress> RunRotation(std::string_view secret, Database& db, LedgerWriter& writer,
                                     const KeyDirectory& keys, const Clock& clock, const RotationOptions& options,
                                     const RotationSteps& steps) {
  RotationProgress progress;
  progress.secret = std::string(secret);
  Result<KeyRing> ring = keys.Load(secret);
  if (!ring.ok()) return ring.status();

  Result<uint64_t> remaining = steps.count_remaining(ring->current().id);
  if (!remaining.ok()) return remaining.status();
  bool exists = false;
  Result<bool> open = RotationOpen(db, secret, ring->current().id, &exists);
  if (!open.ok()) return open.status();

  if (*remaining == 0 && !*open) {
    // Idle: start a new rotation.
    ring = keys.AddKey(secret);
    if (!ring.ok()) return ring.status();
    Status s = RecordStart(writer, secret, ring->current().id, clock.NowMillis());
    if (!s.ok()) return s;
    remaining = steps.count_remaining(ring->current().id);
    if (!remaining.ok()) return remaining.status();
  } else if (!exists) {
    // A crash after the new key was made, before the start was recorded.
    Status s = RecordStart(writer, secret, ring->current().id, clock.NowMillis());
    if (!s.ok()) return s;
  }
  progress.to_key_id = ring->current().id;

  const size_t batch = std::max<size_t>(1, options.batch_size);
  while (options.max_rows == 0 || progress.rows_this_run < options.max_rows) {
    uint64_t limit = batch;
    if (options.max_rows != 0) limit = std::min<uint64_t>(limit, options.max_rows - progress.rows_this_run);
    Result<uint64_t> moved = steps.rewrite_batch(*ring, limit);
    if (!moved.ok()) return moved.status();
    if (*moved == 0) break;
    progress.rows_this_run += *moved;
  }

  remaining = steps.count_remaining(progress.to_key_id);
  if (!remaining.ok()) return remaining.status();
  progress.rows_remaining = *remaining;
  if (*remaining > 0) return progress;

  std::string s(secret);
  uint32_t to = progress.to_key_id;
  int64_t now = clock.NowMillis();
  Status st = writer.Write({{"vault.key_rotation_finished", Payload(secret, to)}},
                           [s, to, now](sqlite3* db, std::span<const ledger::AppendedEntry>) -> Status {
                             Result<Stmt> stmt = Stmt::Prepare(
                                 db, "UPDATE vault_key_rotations SET finished_ms = ? "
                                     "WHERE secret = ? AND to_key_id = ? AND finished_ms IS NULL");
                             if (!stmt.ok()) return stmt.status();
                             stmt->Bind(1, now).BindText(2, s).Bind(3, static_cast<int64_t>(to));
                             return stmt->Run();
                           });
  if (!st.ok()) return st;
  progress.finished = true;
  if (options.retire_old_keys) {
    for (const Key& k : ring->keys()) {
      if (k.id == to) continue;
      st = keys.RetireKey(secret, k.id);
      if (!st.ok()) return st;
    }
  }
  return progress;
}

Result<RotationProgress> RotateKek(Database& db, LedgerWriter& writer, const KeyDirectory& keys, const Clock& clock,
                                   const RotationOptions& options) {
  RotationSteps steps;
  steps.count_remaining = [&db](uint32_t current) -> Result<uint64_t> {
    std::unique_lock<std::mutex> lock = db.Lock();
    Result<Stmt> stmt = db.Cached("SELECT COUNT(*) FROM vault_subject_keys WHERE kek_id <> ?");
    if (!stmt.ok()) return stmt.status();
    stmt->Bind(1, static_cast<int64_t>(current));
    Result<bool> row = stmt->Step();
    if (!row.ok()) return row.status();
    return static_cast<uint64_t>(stmt->Int(0));
  };
  steps.rewrite_batch = [&db, &writer](const KeyRing& ring, uint64_t limit) -> Result<uint64_t> {
    struct Row {
      domain::Sid sid;
      uint32_t old_id;
      std::string wrapped;
    };
    std::vector<Row> rows;
    {
      std::unique_lock<std::mutex> lock = db.Lock();
      Result<Stmt> stmt =
          db.Cached("SELECT sid, kek_id, wrapped FROM vault_subject_keys WHERE kek_id <> ? ORDER BY sid LIMIT ?");
      if (!stmt.ok()) return stmt.status();
      stmt->Bind(1, static_cast<int64_t>(ring.current().id)).Bind(2, static_cast<int64_t>(limit));
      for (;;) {
        Result<bool> row = stmt->Step();
        if (!row.ok()) return row.status();
        if (!*row) break;
        Result<domain::Sid> sid = domain::Sid::FromBytes(AsBytes(stmt->Blob(0)));
        if (!sid.ok()) return Status::Corruption("vault_subject_keys holds a malformed sid");
        rows.push_back({*sid, static_cast<uint32_t>(stmt->Int(1)), stmt->Blob(2)});
      }
    }
    if (rows.empty()) return uint64_t{0};
    for (Row& r : rows) {
      const Key* old_kek = ring.Find(r.old_id);
      if (old_kek == nullptr) {
        return Status::FailedPrecondition("subject " + r.sid.ToHex() + " is wrapped under kek id " +
                                          std::to_string(r.old_id) + ", which is not in the key directory");
      }
      Result<DataKey> key = UnwrapDataKey(*old_kek, r.sid, r.wrapped);
      if (!key.ok()) return key.status();
      r.wrapped = WrapDataKey(ring.current(), r.sid, *key);
    }
    uint32_t to = ring.current().id;
    uint64_t n = rows.size();
    Status s = writer.Write({}, [&rows, to, n](sqlite3* hdb, std::span<const ledger::AppendedEntry>) -> Status {
      Result<Stmt> stmt =
          Stmt::Prepare(hdb, "UPDATE vault_subject_keys SET kek_id = ?, wrapped = ? WHERE sid = ? AND kek_id = ?");
      if (!stmt.ok()) return stmt.status();
      for (const Row& r : rows) {
        // A row shredded meanwhile simply matches nothing.
        stmt->Bind(1, static_cast<int64_t>(to)).Bind(2, AsBytes(r.wrapped)).Bind(3, r.sid.bytes());
        stmt->Bind(4, static_cast<int64_t>(r.old_id));
        Status run = stmt->Run();
        if (!run.ok()) return run;
        stmt->Reset();
      }
      return RecordRotationBatch(hdb, "kek", to, n);
    });
    if (!s.ok()) return s;
    return n;
  };
  return RunRotation(KeyDirectory::kKek, db, writer, keys, clock, options, steps);
}

}  // namespace consentd::vault
