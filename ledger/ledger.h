// Ledger: the append-only, hash-chained, RFC 6962 Merkle-tree log of
// consentd, stored in SQLite (WAL, synchronous=FULL).
//
// Entries are opaque to the ledger: a kind and a JSON payload that the caller
// chooses (and that must never hold personal data). The ledger adds the
// sequence number, the time and the hash link, in the canonical encoding of
// docs/ledger-format.md, and stores every perfect-subtree hash so that roots
// and proofs cost O(log n) reads.
//
// Group commit: concurrent Append calls are committed together in one SQLite
// transaction; each call returns only after that transaction is durable.
// A caller can write its own rows in the same transaction through a
// WriteHook, so that "entry + state + outbox" commit together or not at all.
//
// Thread-safety: all methods are thread-safe.
#ifndef CONSENTD_LEDGER_LEDGER_H_
#define CONSENTD_LEDGER_LEDGER_H_

#include <array>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string_view>
#include <string>
#include <vector>

#include "src/base/clock.h"
#include "src/base/result.h"
#include "src/base/sha256.h"
#include "ledger/checkpoint.h"
#include "ledger/note.h"

struct sqlite3;

namespace consentd::ledger {

// What a caller appends: a kind ([a-z0-9._:-]{1,64}) and a payload that is
// one JSON object on one line (no CR or LF bytes).
struct NewEntry {
  std::string kind;
  std::string payload;
};

// Entries whose kinds and payloads passed the checks Append makes
// (Ledger::Check): AppendChecked does not check them again. A
// caller checks a large batch while the ledger's writer is busy with an
// earlier transaction, instead of on the way into the queue (checking the
// JSON of 262,144 consent entries took 0.14 s while the writer waited).
// Only Ledger::Check makes a non-empty one. Not thread-safe (a value).
class CheckedEntries {
 public:
  CheckedEntries() = default;
  size_t size() const { return entries_.size(); }
  // The entries, as plain entries again (which Append checks).
  std::vector<NewEntry> Release() && { return std::move(entries_); }

 private:
  friend class Ledger;
  explicit CheckedEntries(std::vector<NewEntry> entries) : entries_(std::move(entries)) {}
  std::vector<NewEntry> entries_;
};

// What the ledger assigned to an appended entry.
struct AppendedEntry {
  uint64_t seq = 0;
  int64_t time_millis = 0;
  Hash leaf_hash{};  // SHA-256(0x00 || entry bytes)
};

// Runs inside the group transaction, after the caller's entries were inserted
// (inside a SAVEPOINT of its own). It may read and write the caller's own
// tables through `db`, and must not begin, commit or roll back transactions
// itself. Returning non-OK rolls back this caller's entries and rows only;
// the other callers in the batch are unaffected.
using WriteHook = std::function<Status(sqlite3* db, std::span<const AppendedEntry> appended)>;

// Watches the write connection's transactions, for caches of the tables
// that hooks write (src/service/query_cache.h). Every durable transaction of
// the ledger runs BeforeCommit() right before its COMMIT (the write lock is
// held, so no other connection can commit until it ends) and AfterCommit()
// right after it, with whether COMMIT succeeded; a transaction that fails
// before COMMIT gets AfterCommit(false) only. Both run on the committing
// thread, never concurrently with each other or with the write hooks.
// Implementations must not use the connection in these calls.
class CommitObserver {
 public:
  virtual ~CommitObserver() = default;
  // Once, from SetCommitObserver, with the write connection (no transaction
  // open): the place to install SQLite hooks (e.g. sqlite3_preupdate_hook)
  // that see every row the hooks change.
  virtual Status Attach(sqlite3* db) = 0;
  virtual void BeforeCommit() = 0;
  virtual void AfterCommit(bool committed) = 0;
};

struct LedgerOptions {
  std::string path;              // SQLite file; created if missing when create_if_missing
  bool create_if_missing = false;
  std::string origin;            // checkpoint origin; required when creating
  const Clock* clock = nullptr;  // defaults to the system clock
  const Signer* signer = nullptr;  // needed for SignCheckpoint only
  std::string sqlite_vfs;        // empty: SQLite's default VFS (tests inject faults here)
  bool read_only = false;
  size_t max_batch = 1024;       // callers per group commit
  // Page cache of the write connection, in KiB (SQLite allocates it lazily).
  // Hooks write the service's tables through this connection, keyed by
  // random sids and blind indexes; with SQLite's 2 MiB default, large
  // imports re-read and re-write random pages on every insert.
  int64_t write_cache_kib = 64 * 1024;
};

// A checkpoint the ledger signed and stored.
struct StoredCheckpoint {
  Checkpoint checkpoint;
  std::string signed_note;  // the full note text, as signed and served
  int64_t created_millis = 0;
  // The row's root column, a copy of checkpoint.root (all zeros when it is
  // not 32 bytes); VerifyLedger requires them equal.
  Hash root_column{};
};

class Ledger {
 public:
  // Opens (or creates) the ledger at options.path.
  // On failure returns non-OK and nothing is created half-way.
  static Result<std::unique_ptr<Ledger>> Open(const LedgerOptions& options);

  ~Ledger();
  Ledger(const Ledger&) = delete;
  Ledger& operator=(const Ledger&) = delete;

  // Appends `entries` atomically (all or none) and runs `hook` in the same
  // transaction. Returns the assigned sequence numbers only once the
  // transaction is durable (fsync'd). On failure nothing of this call is
  // stored. An empty `entries` with a hook is allowed: a plain durable
  // transaction, serialized with the appends.
  // Errors: kInvalidArgument for a bad kind or payload, the hook's status,
  // kIOError when the commit failed (the ledger then reloads its head from
  // disk before the next append). One exception to "nothing is stored": when
  // the final fsync fails, the whole transaction may already sit in the WAL;
  // the next successful append overwrites it, but if the process dies first,
  // the call is found wholly stored (entries and hook rows, never in part)
  // after restart. Treat kIOError as "outcome unknown" (tests/ledger/fault_test.cc).
  Result<std::vector<AppendedEntry>> Append(std::vector<NewEntry> entries, WriteHook hook = nullptr);
  // Append for entries Check passed: they are not checked again.
  Result<std::vector<AppendedEntry>> AppendChecked(CheckedEntries entries, WriteHook hook = nullptr);

  // The checks Append makes on `entries` (kinds, payloads), with the same
  // errors (kInvalidArgument naming the problem). Thread-safe, and needs no
  // ledger: it may run on any thread, at any time before the Append.
  static Result<CheckedEntries> Check(std::vector<NewEntry> entries);

  // Number of durable entries.
  uint64_t Size() const;
  const std::string& origin() const;

  // The exact stored bytes of entry `seq`. kNotFound past the end.
  Result<std::string> ReadEntry(uint64_t seq) const;

  // Calls fn(seq, entry_bytes) for seq in [begin, end), in order.
  // Stops early and returns fn's status if it is not OK.
  Status ScanEntries(uint64_t begin, uint64_t end,
                     const std::function<Status(uint64_t, std::string_view)>& fn) const;

  // Like ScanEntries, and also passes the stored subtree hashes of each row
  // (docs/ledger-format.md §5); for the verifier.
  Status ScanStored(uint64_t begin, uint64_t end,
                    const std::function<Status(uint64_t seq, std::string_view entry, std::string_view hashes)>& fn) const;

  // RFC 6962 root of the first `size` entries. REQUIRES size <= Size().
  Result<Hash> RootAt(uint64_t size) const;
  // Audit path for entry `index` in the tree of `size` entries.
  Result<std::vector<Hash>> InclusionProof(uint64_t index, uint64_t size) const;
  // Consistency proof between sizes `first` (> 0) and `second`.
  Result<std::vector<Hash>> ConsistencyProof(uint64_t first, uint64_t second) const;

  // Signs and stores a checkpoint of the current tree, unless the latest
  // stored checkpoint already has this size (then returns that one).
  // Before signing, checks that the stored tree still has the latest
  // checkpoint's root at its size, so the log never signs two inconsistent
  // checkpoints. kFailedPrecondition without a signer; kCorruption when the
  // check fails.
  Result<StoredCheckpoint> SignCheckpoint();

  // The latest stored checkpoint; kNotFound when none was signed yet.
  Result<StoredCheckpoint> LatestCheckpoint() const;
  // All stored checkpoints, oldest first.
  Result<std::vector<StoredCheckpoint>> ListCheckpoints() const;
  // The stored checkpoint of exactly `size`, or kNotFound.
  Result<StoredCheckpoint> CheckpointAt(uint64_t size) const;

  // Stored perfect-subtree hash (level, index); exposed for the verifier and
  // for the tiles API. kNotFound if that subtree is not complete yet.
  Result<Hash> StoredNode(int level, uint64_t index) const;

  // Statistics for metrics and benchmarks.
  struct Stats {
    uint64_t commits = 0;        // group transactions committed
    uint64_t callers = 0;        // Append calls that succeeded
    uint64_t entries = 0;        // entries appended
    uint64_t max_batch = 0;      // largest number of callers in one commit
    // Commits by number of callers: bucket i counts commits of at most 2^i
    // callers (and more than 2^(i-1)); the last bucket takes the rest.
    std::array<uint64_t, 12> batch_histogram{};
  };
  Stats stats() const;

  // Called after each durable commit that added entries, with the new size.
  // Used by the checkpointer to wake up. Set before appends start.
  void SetCommitListener(std::function<void(uint64_t size)> listener);

  // Installs `observer` (it must outlive the ledger or be replaced by
  // nullptr first): waits for the running commit to end, then calls
  // observer->Attach on the write connection. On Attach's failure no
  // observer is set and its status is returned. nullptr removes it (the
  // hooks it installed stay: the caller removes them through Attach of its
  // own or keeps the object alive). kFailedPrecondition when read-only.
  Status SetCommitObserver(CommitObserver* observer);

  class Impl;

 private:
  explicit Ledger(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace consentd::ledger

#endif  // CONSENTD_LEDGER_LEDGER_H_
