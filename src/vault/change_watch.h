// ChangeWatch: tells an in-memory cache of some tables of the main database
// (consentd.db) which of their rows changed, so that the cache never serves
// a row older than the last acknowledged write (docs/api.md "Query index").
//
// Two sources of change, two mechanisms:
//  - This process's writes all commit on the ledger's write connection.
//    ChangeWatch is that connection's ledger::CommitObserver: a SQLite
//    pre-update hook sees every row inserted, updated or deleted in the
//    watched tables (also WITHOUT ROWID tables and DELETE without WHERE,
//    which the hook turns into row-by-row deletes), and collects the values
//    of the watched key columns of the old and the new row. Right
//    after the COMMIT (in the connection's WAL hook, which takes over
//    SQLite's automatic checkpoint), before the ledger acknowledges any
//    writer, the listener receives them (OnCommit) and invalidates
//    precisely.
//  - Other processes (consentctl next to consentd, or anything else that
//    writes the file) are seen through the WAL index: every commit to a WAL
//    database, by any connection of any process, increments the iChange
//    counter of the WAL-index header in the -shm file
//    (https://www.sqlite.org/walformat.html, "The WAL-Index Header"). The
//    watch reads it through the VFS's own shared-memory mapping of a
//    connection it keeps open (xShmMap; no second descriptor whose close
//    would drop SQLite's POSIX locks). It knows the counter's value after
//    each of its own commits ("baseline"): a different value means another
//    connection committed, and the cache must drop everything.
//
// Poll() is what a reader calls before using the cache: kQuiet means no
// commit since the baseline except this process's, already reported;
// kBusy means this process is committing right now (use the database);
// kForeign means another connection committed: the caller must drop its
// whole cache (it has adopted the new value as baseline).
//
// When the WAL-index header cannot be read as documented (another SQLite
// format, no WAL), Open fails and the caller runs without a cache.
//
// Thread-safety: Poll() is thread-safe and lock-free. The CommitObserver
// methods are called by the ledger's committing thread only.
#ifndef CONSENTD_VAULT_CHANGE_WATCH_H_
#define CONSENTD_VAULT_CHANGE_WATCH_H_

#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "ledger/ledger.h"
#include "src/base/bytes.h"
#include "src/base/result.h"

struct sqlite3;
struct sqlite3_value;

namespace consentd::vault {

// A table whose changes are reported, and the BLOB columns whose values
// (old and new) are hashed into the report.
struct WatchedTable {
  std::string name;
  std::vector<std::string> key_columns;
};

class ChangeWatch final : public ledger::CommitObserver {
 public:
  class Listener {
   public:
    virtual ~Listener() = default;
    // After a commit (or a failed one: rows it touched are reported all
    // the same, harmlessly). `keys` holds every watched key value (old and
    // new) of every changed row, as bytes, possibly repeated. `foreign`: a commit of another connection
    // may have happened since the last report: drop everything. Called on
    // the committing thread before the ledger acknowledges the writers.
    virtual void OnCommit(const std::vector<std::string>& keys, bool foreign) = 0;
  };

  enum class PollResult { kQuiet, kBusy, kForeign };

  // Opens a connection of its own to the WAL database at `path` (which
  // must exist) and maps its WAL index. kFailedPrecondition when the
  // header is not the documented one.
  static Result<std::unique_ptr<ChangeWatch>> Open(const std::string& path, std::vector<WatchedTable> tables);
  ~ChangeWatch() override;
  ChangeWatch(const ChangeWatch&) = delete;
  ChangeWatch& operator=(const ChangeWatch&) = delete;

  // Set before the watch is attached to the ledger (listener outlives it).
  void SetListener(Listener* listener) { listener_ = listener; }

  // See the file comment. Reads two copies of a 48-byte header from shared
  // memory; no system call.
  PollResult Poll();

  // ledger::CommitObserver.
  Status Attach(sqlite3* db) override;
  void BeforeCommit() override;
  void AfterCommit(bool committed) override;

  // The WAL-index change counter, or nullopt while a writer is updating
  // the header. For tests.
  std::optional<uint32_t> ReadCounter() const;

  // Internal: called by the pre-update hook, and by the WAL hook right
  // after each commit of the write connection (then AfterCommit has
  // nothing left to do).
  void OnRowChange(sqlite3* db, int op, const char* table);
  void OnWalCommit();
  int auto_checkpoint_frames() const { return auto_checkpoint_frames_; }

 private:
  struct Table {
    std::string name;
    std::vector<int> columns;  // indexes of the key columns
  };
  ChangeWatch() = default;
  void Collect(sqlite3_value* v);

  sqlite3* db_ = nullptr;              // keeps the WAL index mapped
  const volatile uint8_t* header_ = nullptr;  // the WAL-index header (2 copies of 48 bytes)
  std::vector<WatchedTable> wanted_;
  std::vector<Table> tables_;          // resolved by Attach
  Listener* listener_ = nullptr;

  // Reports the transaction's keys; the baseline becomes the counter now.
  void Report(bool committed, bool had_before);

  // Committing thread only.
  enum class Phase { kIdle, kCommitting, kReported };
  Phase phase_ = Phase::kIdle;
  std::vector<std::string> pending_;
  std::optional<uint32_t> before_;
  int auto_checkpoint_frames_ = 1000;

  // The counter's value once all commits up to it were reported (-1:
  // unknown), and whether this process is between BeforeCommit and the
  // end of AfterCommit.
  std::atomic<int64_t> baseline_{-1};
  std::atomic<bool> in_commit_{false};
};

}  // namespace consentd::vault

#endif  // CONSENTD_VAULT_CHANGE_WATCH_H_
