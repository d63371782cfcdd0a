// The pre-update hook is compiled into Debian's libsqlite3
// (ENABLE_PREUPDATE_HOOK); Attach checks it at run time too. The macro only
// makes sqlite3.h declare it.
#define SQLITE_ENABLE_PREUPDATE_HOOK 1
#include "src/vault/change_watch.h"

#include <sqlite3.h>

#include <cstring>

#include "src/vault/sqlite_database.h"

namespace consentd::vault {

namespace {

// https://www.sqlite.org/walformat.html: the WAL-index header is two copies
// of a 48-byte structure at the start of the -shm file; a writer updates
// copy 1, then copy 0; a reader reads copy 0, then copy 1, and trusts them
// when they are equal. iVersion (u32 at 0) is 3007000; iChange (u32 at 8)
// counts transactions; isInit (u8 at 12) is 1 once initialized.
constexpr size_t kHeaderSize = 48;
constexpr uint32_t kWalIndexVersion = 3007000;
constexpr size_t kChangeOffset = 8;
constexpr size_t kIsInitOffset = 12;

void PreUpdate(void* ctx, sqlite3* db, int op, const char* schema, const char* table, sqlite3_int64,
               sqlite3_int64) {
  if (std::strcmp(schema, "main") != 0) return;
  static_cast<ChangeWatch*>(ctx)->OnRowChange(db, op, table);
}

int WalHook(void* ctx, sqlite3* db, const char* schema, int frames) {
  auto* w = static_cast<ChangeWatch*>(ctx);
  w->OnWalCommit();
  // What sqlite3_wal_autocheckpoint's hook does (a PASSIVE checkpoint).
  if (w->auto_checkpoint_frames() > 0 && frames >= w->auto_checkpoint_frames()) sqlite3_wal_checkpoint(db, schema);
  return SQLITE_OK;
}

uint32_t Load32(const uint8_t* p) {
  uint32_t v;
  std::memcpy(&v, p, 4);
  return v;
}

}  // namespace

Result<std::unique_ptr<ChangeWatch>> ChangeWatch::Open(const std::string& path, std::vector<WatchedTable> tables) {
  std::unique_ptr<ChangeWatch> w(new ChangeWatch());
  w->wanted_ = std::move(tables);
  int rc = sqlite3_open_v2(path.c_str(), &w->db_, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, nullptr);
  if (rc != SQLITE_OK) return SqliteStatus(w->db_, rc, "open " + path);
  sqlite3_busy_timeout(w->db_, 5000);
  // Only a WAL database has a WAL index (asking a rollback-journal file's
  // VFS for one would create shared memory that closing never frees).
  Result<Stmt> mode = Stmt::Prepare(w->db_, "PRAGMA journal_mode");
  if (!mode.ok()) return mode.status();
  Result<bool> row = mode->Step();
  if (!row.ok()) return row.status();
  const bool wal = *row && mode->Text(0) == "wal";
  mode->Reset();
  if (!wal) return Status::FailedPrecondition("the database is not in WAL mode");
  // A read maps the WAL index.
  Status s = Exec(w->db_, "SELECT count(*) FROM sqlite_master");
  if (!s.ok()) return s;
  sqlite3_file* file = nullptr;
  if (sqlite3_file_control(w->db_, "main", SQLITE_FCNTL_FILE_POINTER, &file) != SQLITE_OK || file == nullptr ||
      file->pMethods == nullptr || file->pMethods->iVersion < 2 || file->pMethods->xShmMap == nullptr) {
    return Status::FailedPrecondition("the database's VFS has no shared-memory WAL index");
  }
  void volatile* region = nullptr;
  rc = file->pMethods->xShmMap(file, 0, 32768, 0, &region);
  if (rc != SQLITE_OK || region == nullptr) {
    return Status::FailedPrecondition("the database has no WAL index (not in WAL mode?)");
  }
  w->header_ = static_cast<const volatile uint8_t*>(region);
  uint8_t h[kHeaderSize];
  for (size_t i = 0; i < kHeaderSize; ++i) h[i] = w->header_[i];
  if (Load32(h) != kWalIndexVersion || h[kIsInitOffset] != 1) {
    return Status::FailedPrecondition("the WAL-index header is not the documented version 3007000");
  }
  return w;  // the baseline is read at Attach
}

ChangeWatch::~ChangeWatch() {
  if (db_ != nullptr) sqlite3_close(db_);
}

std::optional<uint32_t> ChangeWatch::ReadCounter() const {
  uint8_t a[kHeaderSize], b[kHeaderSize];
  for (size_t i = 0; i < kHeaderSize; ++i) a[i] = header_[i];
  std::atomic_thread_fence(std::memory_order_seq_cst);
  for (size_t i = 0; i < kHeaderSize; ++i) b[i] = header_[kHeaderSize + i];
  std::atomic_thread_fence(std::memory_order_seq_cst);
  if (std::memcmp(a, b, kHeaderSize) != 0 || a[kIsInitOffset] != 1) return std::nullopt;
  return Load32(a + kChangeOffset);
}

ChangeWatch::PollResult ChangeWatch::Poll() {
  // The baseline first, then the counter: AfterCommit stores a baseline it
  // read from the counter, so the counter read here is at least as new.
  int64_t base = baseline_.load();
  std::optional<uint32_t> c = ReadCounter();
  if (!c) return PollResult::kBusy;
  const int64_t now = static_cast<int64_t>(*c);
  if (base == now) return PollResult::kQuiet;
  // Our own commit may have landed and not been reported yet.
  if (in_commit_.load()) return PollResult::kBusy;
  // Or it was reported between the loads above: look again next time.
  if (baseline_.load() != base) return PollResult::kBusy;
  baseline_.compare_exchange_strong(base, now);
  return PollResult::kForeign;
}

Status ChangeWatch::Attach(sqlite3* db) {
  if (!sqlite3_compileoption_used("ENABLE_PREUPDATE_HOOK")) {
    return Status::FailedPrecondition("this SQLite library has no pre-update hook");
  }
  tables_.clear();
  for (const WatchedTable& t : wanted_) {
    Result<Stmt> info = Stmt::Prepare(db, "SELECT cid, name FROM pragma_table_info(?1)");
    if (!info.ok()) return info.status();
    info->BindText(1, t.name);
    Table resolved{t.name, {}};
    std::vector<std::pair<std::string, int>> cols;
    while (true) {
      Result<bool> row = info->Step();
      if (!row.ok()) return row.status();
      if (!*row) break;
      cols.emplace_back(info->Text(1), static_cast<int>(info->Int(0)));
    }
    for (const std::string& want : t.key_columns) {
      bool found = false;
      for (const auto& [name, cid] : cols) {
        if (name == want) {
          resolved.columns.push_back(cid);
          found = true;
        }
      }
      if (!found) return Status::FailedPrecondition("watched column " + t.name + "." + want + " does not exist");
    }
    tables_.push_back(std::move(resolved));
  }
  // SQLite's automatic checkpoint is itself a WAL hook (it runs inside
  // COMMIT, after the commit); ours replaces it and does the same after
  // reporting, so readers wait for the report only, not for the
  // checkpoint's page copying.
  Result<Stmt> ac = Stmt::Prepare(db, "PRAGMA wal_autocheckpoint");
  if (!ac.ok()) return ac.status();
  Result<bool> row = ac->Step();
  if (!row.ok()) return row.status();
  auto_checkpoint_frames_ = *row ? static_cast<int>(ac->Int(0)) : 1000;
  sqlite3_preupdate_hook(db, &PreUpdate, this);
  sqlite3_wal_hook(db, &WalHook, this);
  // No commit of the ledger runs during Attach: whatever the counter says
  // now is accounted for (the cache is filled only after this).
  std::optional<uint32_t> c = ReadCounter();
  baseline_.store(c ? static_cast<int64_t>(*c) : -1);
  return Status::Ok();
}

void ChangeWatch::Collect(sqlite3_value* v) {
  if (v == nullptr) return;
  const void* blob = sqlite3_value_blob(v);
  const int n = sqlite3_value_bytes(v);
  if (blob == nullptr || n <= 0) return;
  pending_.emplace_back(static_cast<const char*>(blob), static_cast<size_t>(n));
}

void ChangeWatch::OnRowChange(sqlite3* db, int op, const char* table) {
  for (const Table& t : tables_) {
    if (t.name != table) continue;
    for (int col : t.columns) {
      sqlite3_value* v = nullptr;
      if (op != SQLITE_INSERT && sqlite3_preupdate_old(db, col, &v) == SQLITE_OK) Collect(v);
      v = nullptr;
      if (op != SQLITE_DELETE && sqlite3_preupdate_new(db, col, &v) == SQLITE_OK) Collect(v);
    }
    return;
  }
}

void ChangeWatch::BeforeCommit() {
  phase_ = Phase::kCommitting;
  in_commit_.store(true);
  before_ = ReadCounter();
}

void ChangeWatch::OnWalCommit() {
  // A commit without BeforeCommit cannot be told from another process's.
  Report(/*committed=*/true, /*had_before=*/phase_ == Phase::kCommitting);
  phase_ = Phase::kReported;
}

void ChangeWatch::AfterCommit(bool committed) {
  const Phase phase = phase_;
  phase_ = Phase::kIdle;
  if (phase == Phase::kReported) return;  // the WAL hook did, right after the commit
  if (phase == Phase::kIdle) {
    // The transaction failed before its COMMIT: the counter must not have
    // moved since the baseline (Report compares it with before_).
    in_commit_.store(true);
    before_ = ReadCounter();
  }
  Report(committed, /*had_before=*/true);
}

void ChangeWatch::Report(bool committed, bool had_before) {
  const std::optional<uint32_t> after = ReadCounter();
  const int64_t base = baseline_.load();
  bool foreign = !had_before || !before_ || !after || base != static_cast<int64_t>(*before_);
  if (!foreign && *after != *before_) {
    // Exactly our own commit, and only when it succeeded.
    foreign = !(committed && *after == *before_ + 1);
  }
  if (listener_ != nullptr) listener_->OnCommit(pending_, foreign);
  pending_.clear();
  baseline_.store(after ? static_cast<int64_t>(*after) : -1);
  in_commit_.store(false);
}

}  // namespace consentd::vault
