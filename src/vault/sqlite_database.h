// SQLite helpers of the identity and vault layers, and Database: the
// connections they own to the data directory's main database (consentd.db)
// for reads and maintenance (WAL checkpoints), a small pool so that reads
// on different threads run in parallel (WAL readers do not block each
// other). Writes never go through it:
// they run inside the ledger's transaction (see ledger_writer.h), on the
// ledger's connection, so that rows and ledger entries commit together.
//
// SQLite result codes are translated to Status here and only here.
//
// Thread-safety: a Stmt is not thread-safe. A Database serializes use of
// each connection: hold the lock returned by Lock() around any use of
// handle() or of statements from Cached(), on the same thread.
#ifndef CONSENTD_VAULT_SQLITE_DATABASE_H_
#define CONSENTD_VAULT_SQLITE_DATABASE_H_

#include <array>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>

#include "src/base/bytes.h"
#include "src/base/result.h"

struct sqlite3;
struct sqlite3_stmt;

namespace consentd::vault {

// Maps a SQLite result code to a Status: BUSY/LOCKED -> kUnavailable,
// CORRUPT/NOTADB -> kCorruption, IOERR/FULL/CANTOPEN -> kIOError,
// CONSTRAINT -> kAlreadyExists, others -> kInternal. `what` names the
// operation; SQLite's message names tables and columns, never values.
Status SqliteStatus(sqlite3* db, int rc, std::string_view what);

// Runs one or more SQL statements without parameters.
Status Exec(sqlite3* db, std::string_view sql);

// The first column of the one row `sql` returns, as an integer (a count,
// a flag). Fails when the statement fails or returns no row.
Result<int64_t> ScalarInt(sqlite3* db, std::string_view sql);

// Moves `table` to a new layout inside the caller's write transaction:
// renames it to <table>_old, runs `schema` (which creates `table` in the new
// layout and its indexes, "IF NOT EXISTS"), copies `columns` over in
// `order_by` order, then drops the old table and with it its indexes (their
// pages are overwritten where secure_delete is on). On failure the caller
// rolls back and nothing has changed.
Status RebuildTable(sqlite3* db, std::string_view table, std::string_view schema, std::string_view columns,
                    std::string_view order_by);

// One read transaction over many statements of one connection, for batch
// reads (a bulk check probes 10,000 keys). Without it every statement runs
// in its own implicit transaction, and each of those takes and drops the
// database file's shared lock (fcntl) and re-reads the WAL index; with it
// the statements share one snapshot and one lock. BEGIN (deferred) when
// constructed, COMMIT when destroyed. When the connection is already in a
// transaction, or BEGIN fails, it does nothing: the statements then still
// run correctly, each in its own implicit transaction. The caller must not
// write through the connection meanwhile, and must hold it (Database::Lock)
// for the object's lifetime.
class ReadTransaction {
 public:
  explicit ReadTransaction(sqlite3* db);
  ~ReadTransaction();
  ReadTransaction(const ReadTransaction&) = delete;
  ReadTransaction& operator=(const ReadTransaction&) = delete;

  // True when this object began a transaction (and will end it).
  bool active() const { return db_ != nullptr; }

 private:
  sqlite3* db_ = nullptr;
};

// A prepared statement, owned or borrowed from a Database cache. Reset (and
// its bindings cleared) when destroyed, so no read transaction stays open.
class Stmt {
 public:
  static Result<Stmt> Prepare(sqlite3* db, std::string_view sql);
  Stmt(Stmt&& other) noexcept;
  Stmt& operator=(Stmt&&) = delete;
  ~Stmt();

  Stmt& Bind(int index, ByteView blob);
  Stmt& Bind(int index, int64_t value);
  Stmt& BindText(int index, std::string_view text);
  Stmt& BindNull(int index);

  // Advances; true when a row is available, false when done.
  Result<bool> Step();
  // Steps until done (for statements without results).
  Status Run();
  // Resets to run again (bindings cleared).
  void Reset();
  // Rows changed by the last Run() on this connection.
  int Changes() const;

  int64_t Int(int col) const;
  std::string Blob(int col) const;
  std::string Text(int col) const;
  bool IsNull(int col) const;

 private:
  Stmt(sqlite3* db, sqlite3_stmt* stmt, bool owned) : db_(db), stmt_(stmt), owned_(owned) {}
  friend class Database;
  sqlite3* db_;
  sqlite3_stmt* stmt_;
  bool owned_;
};

class Database {
 public:
  // Connections in the pool (see Lock()).
  static constexpr size_t kConnections = 4;

  // Opens the existing database file at `path` (read-write, so that it can
  // checkpoint the WAL) kConnections times, each with secure_delete on, a
  // busy timeout and a larger page cache, without a memory map (see Open).
  static Result<std::unique_ptr<Database>> Open(const std::string& path);
  ~Database();
  Database(const Database&) = delete;
  Database& operator=(const Database&) = delete;

  // Takes one of the pool's connections for the calling thread: the one
  // this thread used last when it is free, else any free one, else waits
  // for the thread's own. Until the returned lock is released, handle()
  // and Cached() called by THIS thread use that connection. Threads that
  // read concurrently thus rarely wait for each other (before the pool,
  // every read of the service serialized on one connection). Do not nest
  // Lock() calls of one Database in one thread.
  std::unique_lock<std::mutex> Lock();

  // REQUIRES: the calling thread holds a lock from Lock().
  sqlite3* handle() const;
  // A statement prepared once per connection and kept. REQUIRES: the
  // calling thread holds a lock from Lock() for as long as the returned
  // Stmt lives.
  Result<Stmt> Cached(const char* sql);

  // PRAGMA wal_checkpoint(TRUNCATE): copies the WAL into the database file
  // and truncates the WAL to zero bytes. Retries while readers block it;
  // kUnavailable if it could not complete. Takes the lock itself.
  Status CheckpointTruncate();

 private:
  struct Conn {
    std::mutex mutex;
    sqlite3* db = nullptr;
    std::map<const char*, sqlite3_stmt*> cache;  // keyed by the literal's address; guarded by mutex
  };
  Database() = default;
  Conn& Current() const;

  std::array<Conn, kConnections> conns_;
};

}  // namespace consentd::vault

#endif  // CONSENTD_VAULT_SQLITE_DATABASE_H_
