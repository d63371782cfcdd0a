// Ledger on SQLite.
//
// Storage (docs/ledger-format.md §5):
//   ledger_meta(key TEXT PRIMARY KEY, value TEXT)         format version, origin
//   ledger_entries(seq INTEGER PRIMARY KEY, entry BLOB, hashes BLOB)
//   ledger_checkpoints(size INTEGER PRIMARY KEY, root BLOB, note TEXT, created_ms INTEGER)
// `hashes` of row i is the concatenation of the perfect-subtree hashes that
// leaf i completes: level 0 (its leaf hash), level 1 if i is odd, ... So the
// node (l, k) lives in row ((k + 1) << l) - 1 at byte offset 32 * l, and any
// root or proof needs O(log n) point reads.
//
// Group commit (after LevelDB's writer queue): callers queue a Writer; the
// first caller that finds no leader becomes the leader, takes up to
// max_batch writers, commits them in one transaction (each in its own
// SAVEPOINT, so one failing hook does not fail the others), and wakes them.
//
// Invariants:
//  (1) size_ == number of durable rows in ledger_entries, and only grows.
//  (2) frontier_, last_hash_ and last_time_ describe exactly the first size_
//      entries whenever no leader is running and !needs_reload_.
//  (3) After a commit whose outcome is unknown, needs_reload_ is set and the
//      next leader re-reads the head from disk before appending (SQLite's
//      pager ERROR state).
#include "ledger/ledger.h"

#include <sqlite3.h>

#include <atomic>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <mutex>

#include "ledger/entry.h"
#include "ledger/format.h"
#include "ledger/merkle.h"
#include "src/base/time_format.h"

namespace consentd::ledger {
namespace {

Status SqliteError(sqlite3* db, int rc, std::string_view what) {
  std::string msg(what);
  msg += ": ";
  msg += db ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
  int primary = rc & 0xff;
  if (primary == SQLITE_BUSY || primary == SQLITE_LOCKED) return Status::Unavailable(msg);
  if (primary == SQLITE_CORRUPT || primary == SQLITE_NOTADB) return Status::Corruption(msg);
  if (primary == SQLITE_CONSTRAINT) return Status::AlreadyExists(msg);
  return Status::IOError(msg);
}

Status Exec(sqlite3* db, const char* sql) {
  char* err = nullptr;
  int rc = sqlite3_exec(db, sql, nullptr, nullptr, &err);
  if (rc != SQLITE_OK) {
    std::string msg = std::string(sql).substr(0, 40) + ": " + (err ? err : sqlite3_errstr(rc));
    sqlite3_free(err);
    int primary = rc & 0xff;
    if (primary == SQLITE_BUSY || primary == SQLITE_LOCKED) return Status::Unavailable(msg);
    if (primary == SQLITE_CORRUPT || primary == SQLITE_NOTADB) return Status::Corruption(msg);
    return Status::IOError(msg);
  }
  return Status::Ok();
}

// A prepared statement that resets itself when it goes out of scope.
class Stmt {
 public:
  Stmt() = default;
  ~Stmt() { sqlite3_finalize(s_); }
  Stmt(const Stmt&) = delete;
  Stmt& operator=(const Stmt&) = delete;
  Status Prepare(sqlite3* db, const char* sql) {
    sqlite3_finalize(s_);
    s_ = nullptr;
    int rc = sqlite3_prepare_v3(db, sql, -1, SQLITE_PREPARE_PERSISTENT, &s_, nullptr);
    if (rc != SQLITE_OK) return SqliteError(db, rc, "prepare");
    return Status::Ok();
  }
  sqlite3_stmt* get() const { return s_; }

 private:
  sqlite3_stmt* s_ = nullptr;
};

struct ResetGuard {
  sqlite3_stmt* s;
  ~ResetGuard() {
    sqlite3_reset(s);
    sqlite3_clear_bindings(s);
  }
};

Hash HashFromBlob(const void* p) {
  Hash h;
  std::memcpy(h.data(), p, 32);
  return h;
}

// The checks of Append (Ledger::Check): every kind and payload valid.
Status CheckEntries(const std::vector<NewEntry>& entries) {
  for (const NewEntry& e : entries) {
    Status s = ValidateKind(e.kind);
    if (!s.ok()) return s;
    s = ValidatePayload(e.payload);
    if (!s.ok()) return s;
  }
  return Status::Ok();
}

// One read-only connection with its statements.
struct Reader {
  sqlite3* db = nullptr;
  Stmt get_hashes;   // hashes of one row
  Stmt get_entry;    // entry of one row
  Stmt scan;         // seq, entry, hashes for a range
  Stmt checkpoints;  // all checkpoints
  Stmt checkpoint_at;
  Stmt latest_checkpoint;
  // sqlite3_close_v2 defers the close until the statements (members,
  // destroyed after this body) are finalized.
  ~Reader() { sqlite3_close_v2(db); }
};

}  // namespace

class Ledger::Impl {
 public:
  explicit Impl(const LedgerOptions& o) : options_(o) {
    clock_ = o.clock ? o.clock : &SystemClock::Get();
  }

  ~Impl() { sqlite3_close_v2(wdb_); }

  Status Open();
  // checked: the entries passed CheckEntries (Ledger::Check).
  Result<std::vector<AppendedEntry>> Append(std::vector<NewEntry> entries, WriteHook hook, bool checked);
  Status WithReader(const std::function<Status(Reader&)>& fn) const;
  Result<Hash> StoredNode(Reader& r, int level, uint64_t index) const;
  Result<StoredCheckpoint> SignCheckpoint();
  Result<std::vector<StoredCheckpoint>> ListCheckpoints() const;
  Result<StoredCheckpoint> CheckpointAt(uint64_t size) const;
  Result<StoredCheckpoint> LatestCheckpoint() const;
  Result<StoredCheckpoint> ReadOneCheckpoint(Stmt Reader::*which, const std::function<void(sqlite3_stmt*)>& bind,
                                             Status missing) const;

  NodeSource NodesVia(Reader& r) const {
    return [this, &r](int level, uint64_t index) { return StoredNode(r, level, index); };
  }

  const LedgerOptions options_;
  const Clock* clock_;
  std::string origin_;
  std::atomic<uint64_t> size_{0};

  mutable std::mutex stats_mu_;  // guards stats_
  Stats stats_;
  std::mutex listener_mu_;  // guards listener_ and is held while calling it
  std::function<void(uint64_t)> listener_;

  Status SetCommitObserver(CommitObserver* observer);

 private:
  struct Writer {
    std::vector<NewEntry>* entries;
    const WriteHook* hook;
    Result<std::vector<AppendedEntry>> result = Status::Internal("append not processed");
    bool done = false;
  };

  Status OpenConnection(sqlite3** db, bool read_only) const;
  Status LoadHead();
  void CommitBatch(std::vector<Writer*>& batch);
  Status InsertEntries(Writer* w, int64_t now, std::vector<AppendedEntry>* appended);
  Status CheckHeadUnchanged();

  sqlite3* wdb_ = nullptr;  // used by the leader only
  Stmt insert_;
  CommitObserver* observer_ = nullptr;  // used by the leader only

  // Leader-only state (invariant 2).
  TreeFrontier frontier_;
  Hash last_hash_{};
  int64_t last_time_ = 0;
  bool needs_reload_ = false;

  std::mutex mu_;  // guards queue_ and leader_active_
  std::condition_variable cv_;
  std::deque<Writer*> queue_;
  bool leader_active_ = false;

  std::mutex sign_mu_;  // serializes SignCheckpoint

  mutable std::mutex readers_mu_;
  mutable std::vector<std::unique_ptr<Reader>> idle_readers_;
};

// Process-wide SQLite settings, applied before SQLite's first use in the
// process (sqlite3_config is refused, harmlessly, once SQLite has been
// initialized, e.g. by a test that registered a fault-injecting VFS first).
// Memory statistics off: with them on, every SQLite allocation takes one
// global mutex, which all of consentd's connections share (8 % of an
// import's CPU went to mutex calls). consentd does not read those
// statistics.
static void ConfigureSqliteOnce() {
  static std::once_flag once;
  std::call_once(once, [] { sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0); });
}

Status Ledger::Impl::OpenConnection(sqlite3** db, bool read_only) const {
  ConfigureSqliteOnce();
  int flags = SQLITE_OPEN_NOMUTEX;
  if (read_only) {
    flags |= SQLITE_OPEN_READONLY;
  } else {
    flags |= SQLITE_OPEN_READWRITE;
    if (options_.create_if_missing) flags |= SQLITE_OPEN_CREATE;
  }
  const char* vfs = options_.sqlite_vfs.empty() ? nullptr : options_.sqlite_vfs.c_str();
  int rc = sqlite3_open_v2(options_.path.c_str(), db, flags, vfs);
  if (rc != SQLITE_OK) {
    Status s = SqliteError(*db, rc, "open " + options_.path);
    sqlite3_close_v2(*db);
    *db = nullptr;
    return s;
  }
  sqlite3_extended_result_codes(*db, 1);
  sqlite3_busy_timeout(*db, 10000);
  return Status::Ok();
}

Status Ledger::Impl::Open() {
  Status s = OpenConnection(&wdb_, options_.read_only);
  if (!s.ok()) return s;
  if (!options_.read_only) {
    // A new file gets 16 KiB pages (SQLite's default is 4 KiB; an existing
    // file keeps its size, WAL mode cannot change it). With time-ordered
    // sids most tables grow at their end, and larger pages mean a quarter of
    // the WAL frames, checkpoint writes and B-tree splits: an import of
    // 1,000,000 events took 0.94x the CPU at 1.07x the rate
    // (docs/benchmarks.md, "Import (fifth session)").
    // Durable before acknowledged: WAL with a full fsync at every commit.
    s = Exec(wdb_, "PRAGMA page_size=16384; PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;");
    if (!s.ok()) return s;
    if (options_.write_cache_kib > 0) {
      s = Exec(wdb_, ("PRAGMA cache_size=-" + std::to_string(options_.write_cache_kib)).c_str());
      if (!s.ok()) return s;
    }
    s = Exec(wdb_,
             "BEGIN IMMEDIATE;"
             "CREATE TABLE IF NOT EXISTS ledger_meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);"
             "CREATE TABLE IF NOT EXISTS ledger_entries(seq INTEGER PRIMARY KEY, entry BLOB NOT NULL,"
             " hashes BLOB NOT NULL);"
             "CREATE TABLE IF NOT EXISTS ledger_checkpoints(size INTEGER PRIMARY KEY, root BLOB NOT NULL,"
             " note TEXT NOT NULL, created_ms INTEGER NOT NULL);"
             "COMMIT;");
    if (!s.ok()) return s;
  }
  // Meta: format version and origin.
  {
    Stmt q;
    s = q.Prepare(wdb_, "SELECT key, value FROM ledger_meta");
    if (!s.ok()) return s.WithContext("not a consentd ledger");
    std::string version;
    while (sqlite3_step(q.get()) == SQLITE_ROW) {
      std::string key(reinterpret_cast<const char*>(sqlite3_column_text(q.get(), 0)));
      std::string value(reinterpret_cast<const char*>(sqlite3_column_text(q.get(), 1)));
      if (key == kMetaFormatVersion) version = value;
      if (key == kMetaOrigin) origin_ = value;
    }
    if (version.empty()) {
      if (options_.read_only) return Status::NotFound("ledger is not initialized: " + options_.path);
      if (options_.origin.empty()) return Status::InvalidArgument("a new ledger needs an origin");
      if (!IsValidKeyName(options_.origin)) return Status::InvalidArgument("origin must be a valid key name");
      Stmt ins;
      s = ins.Prepare(wdb_, "INSERT INTO ledger_meta(key, value) VALUES (?, ?), (?, ?)");
      if (!s.ok()) return s;
      std::string v = std::to_string(kFormatVersion);
      sqlite3_bind_text(ins.get(), 1, kMetaFormatVersion.data(), static_cast<int>(kMetaFormatVersion.size()),
                        SQLITE_STATIC);
      sqlite3_bind_text(ins.get(), 2, v.data(), static_cast<int>(v.size()), SQLITE_STATIC);
      sqlite3_bind_text(ins.get(), 3, kMetaOrigin.data(), static_cast<int>(kMetaOrigin.size()), SQLITE_STATIC);
      sqlite3_bind_text(ins.get(), 4, options_.origin.data(), static_cast<int>(options_.origin.size()),
                        SQLITE_STATIC);
      int rc = sqlite3_step(ins.get());
      if (rc != SQLITE_DONE) return SqliteError(wdb_, rc, "write ledger meta");
      origin_ = options_.origin;
    } else if (version != std::to_string(kFormatVersion)) {
      return Status::FailedPrecondition("unsupported ledger format version " + version);
    } else if (!options_.origin.empty() && options_.origin != origin_) {
      return Status::InvalidArgument("ledger origin is '" + origin_ + "', not '" + options_.origin + "'");
    }
  }
  if (!options_.read_only) {
    s = insert_.Prepare(wdb_, "INSERT INTO ledger_entries(seq, entry, hashes) VALUES (?, ?, ?)");
    if (!s.ok()) return s;
  }
  return LoadHead();
}

// Reads size, frontier, last hash and time from disk.
Status Ledger::Impl::LoadHead() {
  Stmt q;
  Status s = q.Prepare(wdb_, "SELECT seq, entry, hashes FROM ledger_entries ORDER BY seq DESC LIMIT 1");
  if (!s.ok()) return s;
  int rc = sqlite3_step(q.get());
  if (rc == SQLITE_DONE) {
    size_ = 0;
    frontier_ = TreeFrontier();
    last_hash_ = Hash{};
    last_time_ = 0;
    needs_reload_ = false;
    return Status::Ok();
  }
  if (rc != SQLITE_ROW) return SqliteError(wdb_, rc, "read ledger head");
  uint64_t size = static_cast<uint64_t>(sqlite3_column_int64(q.get(), 0)) + 1;
  size_ = size;
  if (options_.read_only) return Status::Ok();
  std::string_view entry(static_cast<const char*>(sqlite3_column_blob(q.get(), 1)),
                         static_cast<size_t>(sqlite3_column_bytes(q.get(), 1)));
  int hashes_len = sqlite3_column_bytes(q.get(), 2);
  if (hashes_len < 32) return Status::Corruption("ledger head: stored hashes missing at seq " + std::to_string(size - 1));
  Hash stored_leaf = HashFromBlob(sqlite3_column_blob(q.get(), 2));
  Hash leaf = LeafHash(AsBytes(entry));
  if (leaf != stored_leaf) {
    return Status::Corruption("ledger head: entry " + std::to_string(size - 1) +
                              " does not match its stored hash; run `consentctl ledger verify`");
  }
  Result<EntryView> view = ParseEntry(entry);
  if (!view.ok()) return view.status().WithContext("ledger head seq " + std::to_string(size - 1));
  if (view->seq != size - 1) {
    return Status::Corruption("ledger head: row " + std::to_string(size - 1) + " holds seq " + std::to_string(view->seq));
  }
  last_hash_ = leaf;
  last_time_ = view->time_millis;
  Status read_status;
  Result<TreeFrontier> f = Status::Internal("unset");
  read_status = WithReader([&](Reader& r) {
    f = TreeFrontier::FromNodes(NodesVia(r), size);
    return f.status();
  });
  if (!read_status.ok()) return read_status.WithContext("ledger head frontier");
  frontier_ = std::move(*f);
  needs_reload_ = false;
  return Status::Ok();
}

Status Ledger::Impl::WithReader(const std::function<Status(Reader&)>& fn) const {
  std::unique_ptr<Reader> r;
  {
    std::lock_guard<std::mutex> l(readers_mu_);
    if (!idle_readers_.empty()) {
      r = std::move(idle_readers_.back());
      idle_readers_.pop_back();
    }
  }
  if (!r) {
    r = std::make_unique<Reader>();
    Status s = OpenConnection(&r->db, /*read_only=*/true);
    if (!s.ok()) return s;
    s = r->get_hashes.Prepare(r->db, "SELECT hashes FROM ledger_entries WHERE seq = ?");
    if (s.ok()) s = r->get_entry.Prepare(r->db, "SELECT entry FROM ledger_entries WHERE seq = ?");
    if (s.ok()) {
      s = r->scan.Prepare(r->db,
                          "SELECT seq, entry, hashes FROM ledger_entries WHERE seq >= ? AND seq < ? ORDER BY seq");
    }
    if (s.ok()) {
      s = r->checkpoints.Prepare(r->db, "SELECT size, root, note, created_ms FROM ledger_checkpoints ORDER BY size");
    }
    if (s.ok()) {
      s = r->checkpoint_at.Prepare(r->db,
                                   "SELECT size, root, note, created_ms FROM ledger_checkpoints WHERE size = ?");
    }
    if (s.ok()) {
      s = r->latest_checkpoint.Prepare(
          r->db, "SELECT size, root, note, created_ms FROM ledger_checkpoints ORDER BY size DESC LIMIT 1");
    }
    if (!s.ok()) return s;
  }
  Status s = fn(*r);
  std::lock_guard<std::mutex> l(readers_mu_);
  if (idle_readers_.size() < 16) idle_readers_.push_back(std::move(r));
  return s;
}

Result<Hash> Ledger::Impl::StoredNode(Reader& r, int level, uint64_t index) const {
  if (level < 0 || level > 62) return Status::InvalidArgument("node level out of range");
  uint64_t row = ((index + 1) << level) - 1;
  if (row >= size_.load()) return Status::NotFound("node not complete");
  sqlite3_stmt* st = r.get_hashes.get();
  ResetGuard g{st};
  sqlite3_bind_int64(st, 1, static_cast<sqlite3_int64>(row));
  int rc = sqlite3_step(st);
  if (rc == SQLITE_DONE) return Status::Corruption("stored node missing: row " + std::to_string(row) + " is absent");
  if (rc != SQLITE_ROW) return SqliteError(r.db, rc, "read node");
  int len = sqlite3_column_bytes(st, 0);
  if (len < 32 * (level + 1)) {
    return Status::Corruption("stored node missing: row " + std::to_string(row) + " has too few hashes");
  }
  const uint8_t* p = static_cast<const uint8_t*>(sqlite3_column_blob(st, 0));
  return HashFromBlob(p + 32 * level);
}

Status Ledger::Impl::CheckHeadUnchanged() {
  Stmt q;
  Status s = q.Prepare(wdb_, "SELECT max(seq) FROM ledger_entries");
  if (!s.ok()) return s;
  int rc = sqlite3_step(q.get());
  if (rc != SQLITE_ROW) return SqliteError(wdb_, rc, "read ledger head");
  uint64_t disk_size = sqlite3_column_type(q.get(), 0) == SQLITE_NULL
                           ? 0
                           : static_cast<uint64_t>(sqlite3_column_int64(q.get(), 0)) + 1;
  if (disk_size == frontier_.size()) return Status::Ok();
  // Re-read the head inside this transaction; the appends that follow
  // continue from the true end.
  s = LoadHead();
  if (!s.ok()) return s;
  return Status::Ok();
}

Status Ledger::Impl::InsertEntries(Writer* w, int64_t now, std::vector<AppendedEntry>* appended) {
  std::vector<Hash> completed;
  std::string blob;
  int64_t formatted_ms = -1;
  std::string time_text;
  for (NewEntry& e : *w->entries) {
    uint64_t seq = frontier_.size();
    int64_t time = std::max(now, last_time_);  // times never go backwards
    if (time != formatted_ms) {
      time_text = FormatTimestampMillis(time);
      formatted_ms = time;
    }
    std::string bytes = EncodeEntryAt(seq, time_text, last_hash_, e.kind, e.payload);
    Hash leaf = LeafHash(AsBytes(bytes));
    frontier_.Append(leaf, &completed);
    blob.clear();
    for (const Hash& h : completed) blob.append(reinterpret_cast<const char*>(h.data()), h.size());
    sqlite3_stmt* st = insert_.get();
    ResetGuard g{st};
    sqlite3_bind_int64(st, 1, static_cast<sqlite3_int64>(seq));
    sqlite3_bind_blob(st, 2, bytes.data(), static_cast<int>(bytes.size()), SQLITE_STATIC);
    sqlite3_bind_blob(st, 3, blob.data(), static_cast<int>(blob.size()), SQLITE_STATIC);
    int rc = sqlite3_step(st);
    if (rc != SQLITE_DONE) return SqliteError(wdb_, rc, "insert ledger entry");
    last_hash_ = leaf;
    last_time_ = time;
    appended->push_back(AppendedEntry{seq, time, leaf});
  }
  return Status::Ok();
}

void Ledger::Impl::CommitBatch(std::vector<Writer*>& batch) {
  auto fail_all = [&](const Status& s) {
    for (Writer* w : batch) w->result = s;
  };
  if (needs_reload_) {
    Status s = LoadHead();
    if (!s.ok()) {
      fail_all(s.WithContext("ledger is in an error state after a failed commit"));
      return;
    }
  }
  Status s = Exec(wdb_, "BEGIN IMMEDIATE");
  if (!s.ok()) {
    fail_all(s);
    return;
  }
  // From here every way out tells the observer how the transaction ended.
  struct ObserverCall {
    CommitObserver* o;
    bool committed = false;
    ~ObserverCall() {
      if (o) o->AfterCommit(committed);
    }
  } observed{observer_};
  // Another process (consentctl next to a running consentd) may have
  // appended since our head was read; the write lock we now hold makes the
  // check and the appends atomic.
  s = CheckHeadUnchanged();
  if (!s.ok()) {
    (void)Exec(wdb_, "ROLLBACK");
    needs_reload_ = true;
    fail_all(s);
    return;
  }
  const TreeFrontier start_frontier = frontier_;
  const Hash start_hash = last_hash_;
  const int64_t start_time = last_time_;
  auto restore_start = [&] {
    frontier_ = start_frontier;
    last_hash_ = start_hash;
    last_time_ = start_time;
  };
  const int64_t now = clock_->NowMillis();
  size_t ok_callers = 0;
  for (Writer* w : batch) {
    const TreeFrontier f0 = frontier_;
    const Hash h0 = last_hash_;
    const int64_t t0 = last_time_;
    s = Exec(wdb_, "SAVEPOINT append");
    if (!s.ok()) break;
    std::vector<AppendedEntry> appended;
    Status ws = InsertEntries(w, now, &appended);
    if (ws.ok() && *w->hook) {
      ws = (*w->hook)(wdb_, appended);
    }
    if (sqlite3_get_autocommit(wdb_)) {
      // SQLite rolled the whole transaction back (I/O error, disk full, or a
      // hook that ended the transaction): every writer in the batch fails.
      s = ws.ok() ? Status::Internal("transaction ended inside a write hook") : ws;
      break;
    }
    if (!ws.ok()) {
      frontier_ = f0;
      last_hash_ = h0;
      last_time_ = t0;
      Status rs = Exec(wdb_, "ROLLBACK TO append; RELEASE append");
      w->result = ws;
      if (!rs.ok()) {
        s = rs;
        break;
      }
      continue;
    }
    s = Exec(wdb_, "RELEASE append");
    if (!s.ok()) break;
    w->result = std::move(appended);
    ++ok_callers;
  }
  if (s.ok()) {
    if (observer_) observer_->BeforeCommit();
    s = Exec(wdb_, "COMMIT");
    observed.committed = s.ok();
  }
  if (!s.ok()) {
    // The outcome on disk may be unknown (e.g. fsync failed after the WAL
    // write): roll back what we can and re-read the head before the next
    // append.
    if (!sqlite3_get_autocommit(wdb_)) (void)Exec(wdb_, "ROLLBACK");
    restore_start();
    needs_reload_ = true;
    Status failed = Status::IOError("ledger commit failed: " + s.message());
    for (Writer* w : batch) {
      if (w->result.ok() || w->result.status().code() == StatusCode::kInternal) w->result = failed;
    }
    return;
  }
  uint64_t old_size = size_.load();
  size_.store(frontier_.size());
  {
    std::lock_guard<std::mutex> l(stats_mu_);
    ++stats_.commits;
    stats_.callers += ok_callers;
    stats_.entries += frontier_.size() - old_size;
    stats_.max_batch = std::max<uint64_t>(stats_.max_batch, batch.size());
    size_t bucket = 0;
    while (bucket + 1 < stats_.batch_histogram.size() && (size_t{1} << bucket) < batch.size()) ++bucket;
    ++stats_.batch_histogram[bucket];
  }
  // Called under listener_mu_, so that once SetCommitListener returns the
  // old listener is never called again (its owner may be gone).
  std::lock_guard<std::mutex> l(listener_mu_);
  if (frontier_.size() != old_size && listener_) listener_(frontier_.size());
}

Result<std::vector<AppendedEntry>> Ledger::Impl::Append(std::vector<NewEntry> entries, WriteHook hook,
                                                        bool checked) {
  if (options_.read_only) return Status::FailedPrecondition("ledger opened read-only");
  if (!checked) {
    Status s = CheckEntries(entries);
    if (!s.ok()) return s;
  }
  Writer w{&entries, &hook};
  std::unique_lock<std::mutex> l(mu_);
  queue_.push_back(&w);
  while (!w.done) {
    if (leader_active_) {
      cv_.wait(l);
      continue;
    }
    leader_active_ = true;
    std::vector<Writer*> batch;
    while (!queue_.empty() && batch.size() < options_.max_batch) {
      batch.push_back(queue_.front());
      queue_.pop_front();
    }
    l.unlock();
    CommitBatch(batch);
    l.lock();
    for (Writer* b : batch) b->done = true;
    leader_active_ = false;
    cv_.notify_all();
  }
  return std::move(w.result);
}

namespace {

StoredCheckpoint ReadCheckpointRow(sqlite3_stmt* st, Status* s) {
  StoredCheckpoint c;
  std::string note(reinterpret_cast<const char*>(sqlite3_column_text(st, 2)),
                   static_cast<size_t>(sqlite3_column_bytes(st, 2)));
  c.signed_note = note;
  c.created_millis = sqlite3_column_int64(st, 3);
  Result<Note> parsed = ParseNote(note);
  if (!parsed.ok()) {
    *s = Status::Corruption("stored checkpoint " + std::to_string(sqlite3_column_int64(st, 0)) + ": " +
                            parsed.status().message());
    return c;
  }
  Result<Checkpoint> body = ParseCheckpointBody(parsed->text);
  if (!body.ok()) {
    *s = Status::Corruption("stored checkpoint " + std::to_string(sqlite3_column_int64(st, 0)) + ": " +
                            body.status().message());
    return c;
  }
  // The row's size must be the signed note's, or the ledger would serve one
  // checkpoint as another (CheckpointAt, proofs against signed sizes).
  const uint64_t row_size = static_cast<uint64_t>(sqlite3_column_int64(st, 0));
  if (body->size != row_size) {
    *s = Status::Corruption("stored checkpoint " + std::to_string(row_size) +
                            ": its row does not match its signed note (size " + std::to_string(body->size) + ")");
    return c;
  }
  // The root column duplicates the signed root; the verifier checks it.
  if (sqlite3_column_bytes(st, 1) == 32) c.root_column = HashFromBlob(sqlite3_column_blob(st, 1));
  c.checkpoint = std::move(*body);
  *s = Status::Ok();
  return c;
}

}  // namespace

Result<std::vector<StoredCheckpoint>> Ledger::Impl::ListCheckpoints() const {
  std::vector<StoredCheckpoint> out;
  Status s = WithReader([&](Reader& r) {
    sqlite3_stmt* st = r.checkpoints.get();
    ResetGuard g{st};
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
      Status rs;
      out.push_back(ReadCheckpointRow(st, &rs));
      if (!rs.ok()) return rs;
    }
    if (rc != SQLITE_DONE) return SqliteError(r.db, rc, "list checkpoints");
    return Status::Ok();
  });
  if (!s.ok()) return s;
  return out;
}

// Reads the one checkpoint row `st` (prepared, bound) selects, or `missing`
// when it selects none.
Result<StoredCheckpoint> Ledger::Impl::ReadOneCheckpoint(Stmt Reader::*which,
                                                          const std::function<void(sqlite3_stmt*)>& bind,
                                                          Status missing) const {
  Result<StoredCheckpoint> out = std::move(missing);
  Status s = WithReader([&](Reader& r) {
    sqlite3_stmt* st = (r.*which).get();
    ResetGuard g{st};
    if (bind) bind(st);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_DONE) return Status::Ok();
    if (rc != SQLITE_ROW) return SqliteError(r.db, rc, "read checkpoint");
    Status rs;
    StoredCheckpoint c = ReadCheckpointRow(st, &rs);
    if (!rs.ok()) return rs;
    out = std::move(c);
    return Status::Ok();
  });
  if (!s.ok()) return s;
  return out;
}

// One row, not the whole table: a checkpoint a second is 86,400 rows a day.
Result<StoredCheckpoint> Ledger::Impl::LatestCheckpoint() const {
  return ReadOneCheckpoint(&Reader::latest_checkpoint, nullptr,
                           Status::NotFound("no checkpoint has been signed yet"));
}

Result<StoredCheckpoint> Ledger::Impl::CheckpointAt(uint64_t size) const {
  return ReadOneCheckpoint(
      &Reader::checkpoint_at,
      [size](sqlite3_stmt* st) { sqlite3_bind_int64(st, 1, static_cast<sqlite3_int64>(size)); },
      Status::NotFound("no checkpoint of size " + std::to_string(size)));
}

Result<StoredCheckpoint> Ledger::Impl::SignCheckpoint() {
  if (!options_.signer) return Status::FailedPrecondition("no checkpoint signer configured");
  if (options_.signer->name() != origin_) {
    return Status::FailedPrecondition("signer key name must equal the ledger origin");
  }
  std::lock_guard<std::mutex> l(sign_mu_);
  const uint64_t size = size_.load();
  Result<StoredCheckpoint> latest = LatestCheckpoint();
  if (!latest.ok() && latest.status().code() != StatusCode::kNotFound) return latest.status();
  Result<Hash> root = Status::Internal("unset");
  Status s = WithReader([&](Reader& r) {
    NodeSource nodes = NodesVia(r);
    if (latest.ok()) {
      const Checkpoint& last = latest->checkpoint;
      if (last.size > size) {
        return Status::Corruption("latest checkpoint covers " + std::to_string(last.size) +
                                  " entries but the ledger has " + std::to_string(size));
      }
      // Never sign two inconsistent checkpoints: the stored tree must still
      // have the last signed root at the last signed size.
      Result<Hash> old_root = RootFromNodes(nodes, last.size);
      if (!old_root.ok()) return old_root.status();
      if (*old_root != last.root) {
        return Status::Corruption("stored tree no longer matches the checkpoint of size " + std::to_string(last.size));
      }
    }
    root = RootFromNodes(nodes, size);
    return root.status();
  });
  if (!s.ok()) return s;
  if (latest.ok() && latest->checkpoint.size == size) return *latest;
  StoredCheckpoint c;
  c.checkpoint.origin = origin_;
  c.checkpoint.size = size;
  c.checkpoint.root = *root;
  c.signed_note = options_.signer->SignNote(c.checkpoint.Body());
  c.created_millis = clock_->NowMillis();
  Result<std::vector<AppendedEntry>> r = Append({}, [&](sqlite3* db, std::span<const AppendedEntry>) {
    Stmt ins;
    Status ps = ins.Prepare(db, "INSERT INTO ledger_checkpoints(size, root, note, created_ms) VALUES (?, ?, ?, ?)");
    if (!ps.ok()) return ps;
    sqlite3_bind_int64(ins.get(), 1, static_cast<sqlite3_int64>(size));
    sqlite3_bind_blob(ins.get(), 2, c.checkpoint.root.data(), 32, SQLITE_STATIC);
    sqlite3_bind_text(ins.get(), 3, c.signed_note.data(), static_cast<int>(c.signed_note.size()), SQLITE_STATIC);
    sqlite3_bind_int64(ins.get(), 4, c.created_millis);
    int rc = sqlite3_step(ins.get());
    if (rc != SQLITE_DONE) return SqliteError(db, rc, "store checkpoint");
    return Status::Ok();
  }, /*checked=*/false);
  if (!r.ok()) return r.status();
  return c;
}

// ---- Ledger: thin forwarding to Impl ----

Ledger::Ledger(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Ledger::~Ledger() = default;

Result<std::unique_ptr<Ledger>> Ledger::Open(const LedgerOptions& options) {
  auto impl = std::make_unique<Impl>(options);
  Status s = impl->Open();
  if (!s.ok()) return s;
  return std::unique_ptr<Ledger>(new Ledger(std::move(impl)));
}

Result<std::vector<AppendedEntry>> Ledger::Append(std::vector<NewEntry> entries, WriteHook hook) {
  return impl_->Append(std::move(entries), std::move(hook), /*checked=*/false);
}

Result<std::vector<AppendedEntry>> Ledger::AppendChecked(CheckedEntries entries, WriteHook hook) {
  return impl_->Append(std::move(entries.entries_), std::move(hook), /*checked=*/true);
}

Result<CheckedEntries> Ledger::Check(std::vector<NewEntry> entries) {
  Status s = CheckEntries(entries);
  if (!s.ok()) return s;
  return CheckedEntries(std::move(entries));
}

uint64_t Ledger::Size() const { return impl_->size_.load(); }
const std::string& Ledger::origin() const { return impl_->origin_; }

Result<std::string> Ledger::ReadEntry(uint64_t seq) const {
  if (seq >= Size()) return Status::NotFound("no entry " + std::to_string(seq));
  Result<std::string> out = Status::Internal("unset");
  Status s = impl_->WithReader([&](Reader& r) {
    sqlite3_stmt* st = r.get_entry.get();
    ResetGuard g{st};
    sqlite3_bind_int64(st, 1, static_cast<sqlite3_int64>(seq));
    int rc = sqlite3_step(st);
    if (rc == SQLITE_DONE) return Status::Corruption("entry " + std::to_string(seq) + " is missing");
    if (rc != SQLITE_ROW) return SqliteError(r.db, rc, "read entry");
    out = std::string(static_cast<const char*>(sqlite3_column_blob(st, 0)),
                      static_cast<size_t>(sqlite3_column_bytes(st, 0)));
    return Status::Ok();
  });
  if (!s.ok()) return s;
  return out;
}

Status Ledger::ScanEntries(uint64_t begin, uint64_t end,
                           const std::function<Status(uint64_t, std::string_view)>& fn) const {
  return ScanStored(begin, end, [&](uint64_t seq, std::string_view entry, std::string_view) { return fn(seq, entry); });
}

Status Ledger::ScanStored(uint64_t begin, uint64_t end,
                          const std::function<Status(uint64_t, std::string_view, std::string_view)>& fn) const {
  return impl_->WithReader([&](Reader& r) {
    sqlite3_stmt* st = r.scan.get();
    ResetGuard g{st};
    sqlite3_bind_int64(st, 1, static_cast<sqlite3_int64>(std::min<uint64_t>(begin, INT64_MAX)));
    sqlite3_bind_int64(st, 2, static_cast<sqlite3_int64>(std::min<uint64_t>(end, INT64_MAX)));
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
      uint64_t seq = static_cast<uint64_t>(sqlite3_column_int64(st, 0));
      std::string_view entry(static_cast<const char*>(sqlite3_column_blob(st, 1)),
                             static_cast<size_t>(sqlite3_column_bytes(st, 1)));
      std::string_view hashes(static_cast<const char*>(sqlite3_column_blob(st, 2)),
                              static_cast<size_t>(sqlite3_column_bytes(st, 2)));
      Status s = fn(seq, entry, hashes);
      if (!s.ok()) return s;
    }
    if (rc != SQLITE_DONE) return SqliteError(r.db, rc, "scan entries");
    return Status::Ok();
  });
}

Result<Hash> Ledger::RootAt(uint64_t size) const {
  if (size > Size()) return Status::InvalidArgument("size beyond the ledger");
  Result<Hash> out = Status::Internal("unset");
  Status s = impl_->WithReader([&](Reader& r) {
    out = RootFromNodes(impl_->NodesVia(r), size);
    return out.status();
  });
  if (!s.ok()) return s;
  return out;
}

Result<std::vector<Hash>> Ledger::InclusionProof(uint64_t index, uint64_t size) const {
  if (size > Size()) return Status::InvalidArgument("size beyond the ledger");
  if (index >= size) return Status::InvalidArgument("index must be below size");
  Result<std::vector<Hash>> out = Status::Internal("unset");
  Status s = impl_->WithReader([&](Reader& r) {
    out = InclusionProofFromNodes(impl_->NodesVia(r), index, size);
    return out.status();
  });
  if (!s.ok()) return s;
  return out;
}

Result<std::vector<Hash>> Ledger::ConsistencyProof(uint64_t first, uint64_t second) const {
  if (second > Size()) return Status::InvalidArgument("size beyond the ledger");
  if (first == 0 || first > second) return Status::InvalidArgument("need 0 < first <= second");
  Result<std::vector<Hash>> out = Status::Internal("unset");
  Status s = impl_->WithReader([&](Reader& r) {
    out = ConsistencyProofFromNodes(impl_->NodesVia(r), first, second);
    return out.status();
  });
  if (!s.ok()) return s;
  return out;
}

Result<StoredCheckpoint> Ledger::SignCheckpoint() { return impl_->SignCheckpoint(); }

Result<StoredCheckpoint> Ledger::LatestCheckpoint() const { return impl_->LatestCheckpoint(); }

Result<std::vector<StoredCheckpoint>> Ledger::ListCheckpoints() const { return impl_->ListCheckpoints(); }
Result<StoredCheckpoint> Ledger::CheckpointAt(uint64_t size) const { return impl_->CheckpointAt(size); }

Result<Hash> Ledger::StoredNode(int level, uint64_t index) const {
  Result<Hash> out = Status::Internal("unset");
  Status s = impl_->WithReader([&](Reader& r) {
    out = impl_->StoredNode(r, level, index);
    return out.status();
  });
  if (!s.ok()) return s;
  return out;
}

Ledger::Stats Ledger::stats() const {
  std::lock_guard<std::mutex> l(impl_->stats_mu_);
  return impl_->stats_;
}

Status Ledger::Impl::SetCommitObserver(CommitObserver* observer) {
  if (options_.read_only) return Status::FailedPrecondition("ledger opened read-only");
  std::unique_lock<std::mutex> l(mu_);
  cv_.wait(l, [&] { return !leader_active_; });
  // Become the leader so that no commit uses the connection meanwhile.
  leader_active_ = true;
  l.unlock();
  Status s = observer ? observer->Attach(wdb_) : Status::Ok();
  l.lock();
  if (s.ok()) observer_ = observer;
  leader_active_ = false;
  cv_.notify_all();
  return s;
}

Status Ledger::SetCommitObserver(CommitObserver* observer) { return impl_->SetCommitObserver(observer); }

void Ledger::SetCommitListener(std::function<void(uint64_t)> listener) {
  std::lock_guard<std::mutex> l(impl_->listener_mu_);
  impl_->listener_ = std::move(listener);
}

}  // namespace consentd::ledger
