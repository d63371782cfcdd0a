#include "src/vault/sqlite_database.h"

#include <sqlite3.h>

#include <atomic>
#include <chrono>
#include <thread>

namespace consentd::vault {

Status SqliteStatus(sqlite3* db, int rc, std::string_view what) {
  std::string message = std::string(what) + ": " + (db != nullptr ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
  switch (rc & 0xff) {
    case SQLITE_OK:
    case SQLITE_ROW:
    case SQLITE_DONE:
      return Status::Ok();
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
      return Status::Unavailable(message);
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB:
      return Status::Corruption(message);
    case SQLITE_IOERR:
    case SQLITE_FULL:
    case SQLITE_CANTOPEN:
      return Status::IOError(message);
    case SQLITE_CONSTRAINT:
      return Status::AlreadyExists(message);
    default:
      return Status::Internal(message);
  }
}

Status Exec(sqlite3* db, std::string_view sql) {
  std::string copy(sql);
  int rc = sqlite3_exec(db, copy.c_str(), nullptr, nullptr, nullptr);
  if (rc != SQLITE_OK) return SqliteStatus(db, rc, "sqlite exec");
  return Status::Ok();
}

Result<int64_t> ScalarInt(sqlite3* db, std::string_view sql) {
  Result<Stmt> q = Stmt::Prepare(db, sql);
  if (!q.ok()) return q.status();
  Result<bool> row = q->Step();
  if (!row.ok()) return row.status();
  if (!*row) return Status::Internal("query returned no row");
  return q->Int(0);
}

Status RebuildTable(sqlite3* db, std::string_view table, std::string_view schema, std::string_view columns,
                    std::string_view order_by) {
  const std::string t(table), old = t + "_old", cols(columns);
  return Exec(db, "ALTER TABLE " + t + " RENAME TO " + old + ";" + std::string(schema) + "INSERT INTO " + t + "(" +
                      cols + ") SELECT " + cols + " FROM " + old + " ORDER BY " + std::string(order_by) + ";" +
                      "DROP TABLE " + old + ";");
}

ReadTransaction::ReadTransaction(sqlite3* db) {
  if (db == nullptr || !sqlite3_get_autocommit(db)) return;
  if (sqlite3_exec(db, "BEGIN", nullptr, nullptr, nullptr) == SQLITE_OK) db_ = db;
}

ReadTransaction::~ReadTransaction() {
  if (db_ == nullptr) return;
  // A read-only transaction cannot fail to commit for lack of space; if
  // COMMIT fails anyway (a statement still stepping), roll back so that the
  // connection never keeps an old snapshot.
  if (sqlite3_exec(db_, "COMMIT", nullptr, nullptr, nullptr) != SQLITE_OK) {
    sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
  }
}

Result<Stmt> Stmt::Prepare(sqlite3* db, std::string_view sql) {
  sqlite3_stmt* stmt = nullptr;
  int rc = sqlite3_prepare_v2(db, sql.data(), static_cast<int>(sql.size()), &stmt, nullptr);
  if (rc != SQLITE_OK) return SqliteStatus(db, rc, "sqlite prepare");
  return Stmt(db, stmt, true);
}

Stmt::Stmt(Stmt&& other) noexcept : db_(other.db_), stmt_(other.stmt_), owned_(other.owned_) {
  other.stmt_ = nullptr;
}

Stmt::~Stmt() {
  if (stmt_ == nullptr) return;
  if (owned_) {
    sqlite3_finalize(stmt_);
  } else {
    sqlite3_reset(stmt_);
    sqlite3_clear_bindings(stmt_);
  }
}

Stmt& Stmt::Bind(int index, ByteView blob) {
  sqlite3_bind_blob(stmt_, index, blob.data(), static_cast<int>(blob.size()), SQLITE_TRANSIENT);
  return *this;
}
Stmt& Stmt::Bind(int index, int64_t value) {
  sqlite3_bind_int64(stmt_, index, value);
  return *this;
}
Stmt& Stmt::BindText(int index, std::string_view text) {
  sqlite3_bind_text(stmt_, index, text.data(), static_cast<int>(text.size()), SQLITE_TRANSIENT);
  return *this;
}
Stmt& Stmt::BindNull(int index) {
  sqlite3_bind_null(stmt_, index);
  return *this;
}

Result<bool> Stmt::Step() {
  int rc = sqlite3_step(stmt_);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  Status s = SqliteStatus(db_, rc, "sqlite step");
  sqlite3_reset(stmt_);
  return s;
}

Status Stmt::Run() {
  for (;;) {
    Result<bool> row = Step();
    if (!row.ok()) return row.status();
    if (!*row) return Status::Ok();
  }
}

void Stmt::Reset() {
  sqlite3_reset(stmt_);
  sqlite3_clear_bindings(stmt_);
}

int Stmt::Changes() const { return sqlite3_changes(db_); }

int64_t Stmt::Int(int col) const { return sqlite3_column_int64(stmt_, col); }

std::string Stmt::Blob(int col) const {
  const void* p = sqlite3_column_blob(stmt_, col);
  int n = sqlite3_column_bytes(stmt_, col);
  return p == nullptr ? std::string() : std::string(static_cast<const char*>(p), static_cast<size_t>(n));
}

std::string Stmt::Text(int col) const {
  const unsigned char* p = sqlite3_column_text(stmt_, col);
  int n = sqlite3_column_bytes(stmt_, col);
  return p == nullptr ? std::string() : std::string(reinterpret_cast<const char*>(p), static_cast<size_t>(n));
}

bool Stmt::IsNull(int col) const { return sqlite3_column_type(stmt_, col) == SQLITE_NULL; }

namespace {

// The connection each thread holds, per Database (a thread may hold the
// locks of two Databases at once, never two of one). Entries of Databases
// gone (or not used for long) are reused least recently set first, so an
// entry whose lock is held, set just before, is never the one replaced.
struct Held {
  const Database* owner = nullptr;
  void* conn = nullptr;
  uint64_t stamp = 0;
};
thread_local std::array<Held, 8> tl_held;
thread_local uint64_t tl_stamp = 0;
thread_local size_t tl_preferred = SIZE_MAX;  // this thread's pool slot
std::atomic<size_t> next_slot{0};

void SetHeld(const Database* owner, void* conn) {
  Held* target = &tl_held[0];
  for (Held& h : tl_held) {
    if (h.owner == owner) {
      target = &h;
      break;
    }
    if (h.stamp < target->stamp) target = &h;
  }
  *target = Held{owner, conn, ++tl_stamp};
}

}  // namespace

Result<std::unique_ptr<Database>> Database::Open(const std::string& path) {
  std::unique_ptr<Database> d(new Database());
  for (Conn& c : d->conns_) {
    int rc = sqlite3_open_v2(path.c_str(), &c.db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, nullptr);
    if (rc != SQLITE_OK) return SqliteStatus(c.db, rc, "open " + path);
    sqlite3_busy_timeout(c.db, 5000);
    // secure_delete zeroes deleted content instead of leaving it in free
    // pages; it is a property of the connection that deletes. No memory
    // map: SQLite unmaps a connection's whole map (and empties its cache)
    // at its first read after any other connection wrote, so with the
    // service's steady writes (access log, consent) every read re-faulted
    // its pages and the unmaps walked every page mapped before; with 1M
    // subjects a bulk check and the access-log flush after it cost about
    // twice the CPU with a map than with reads into the cache
    // (docs/benchmarks.md, "Check").
    Status s = Exec(c.db, "PRAGMA secure_delete=ON; PRAGMA mmap_size=0; PRAGMA cache_size=-16384;");
    if (!s.ok()) return s;
  }
  return d;
}

Database::~Database() {
  for (Conn& c : conns_) {
    for (auto& [sql, stmt] : c.cache) sqlite3_finalize(stmt);
    if (c.db != nullptr) sqlite3_close(c.db);
  }
}

std::unique_lock<std::mutex> Database::Lock() {
  if (tl_preferred == SIZE_MAX) tl_preferred = next_slot.fetch_add(1);
  const size_t first = tl_preferred % kConnections;
  for (size_t i = 0; i < kConnections; ++i) {
    Conn& c = conns_[(first + i) % kConnections];
    std::unique_lock<std::mutex> l(c.mutex, std::try_to_lock);
    if (l.owns_lock()) {
      SetHeld(this, &c);
      return l;
    }
  }
  Conn& c = conns_[first];
  std::unique_lock<std::mutex> l(c.mutex);
  SetHeld(this, &c);
  return l;
}

Database::Conn& Database::Current() const {
  for (const Held& h : tl_held) {
    if (h.owner == this) return *static_cast<Conn*>(h.conn);
  }
  // Contract broken (no Lock() on this thread): the first connection, as
  // the single-connection Database had.
  return const_cast<Conn&>(conns_[0]);
}

sqlite3* Database::handle() const { return Current().db; }

Result<Stmt> Database::Cached(const char* sql) {
  Conn& c = Current();
  auto it = c.cache.find(sql);
  if (it == c.cache.end()) {
    sqlite3_stmt* stmt = nullptr;
    int rc = sqlite3_prepare_v3(c.db, sql, -1, SQLITE_PREPARE_PERSISTENT, &stmt, nullptr);
    if (rc != SQLITE_OK) return SqliteStatus(c.db, rc, "sqlite prepare");
    it = c.cache.emplace(sql, stmt).first;
  }
  return Stmt(c.db, it->second, false);
}

Status Database::CheckpointTruncate() {
  for (int attempt = 0; attempt < 50; ++attempt) {
    {
      std::unique_lock<std::mutex> lock = Lock();
      int log_frames = 0, checkpointed = 0;
      sqlite3* db = handle();
      int rc = sqlite3_wal_checkpoint_v2(db, nullptr, SQLITE_CHECKPOINT_TRUNCATE, &log_frames, &checkpointed);
      if (rc == SQLITE_OK) return Status::Ok();
      if (rc != SQLITE_BUSY && rc != SQLITE_LOCKED) return SqliteStatus(db, rc, "wal checkpoint");
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return Status::Unavailable("wal checkpoint: readers kept the WAL busy; retry");
}

}  // namespace consentd::vault
