// ChangeWatch on a real ledger's write connection: the keys of every
// changed row of the watched tables reach the listener after the commit
// (none of other tables), a rolled-back write reports without moving the
// WAL-index counter, and commits of another connection are seen by Poll()
// (once) and by the next own commit.
#include "src/vault/change_watch.h"

#include <sqlite3.h>

#include <catch2/catch.hpp>
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "ledger/ledger.h"
#include "src/vault/sqlite_database.h"

namespace consentd::vault {
namespace {

struct Recorder final : ChangeWatch::Listener {
  void OnCommit(const std::vector<std::string>& keys, bool foreign) override {
    calls.push_back({std::set<std::string>(keys.begin(), keys.end()), foreign});
  }
  struct Call {
    std::set<std::string> keys;
    bool foreign;
  };
  std::vector<Call> calls;
};

struct Env {
  Env() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "consentd-watch-XXXXXX").string();
    REQUIRE(::mkdtemp(tmpl.data()) != nullptr);
    dir = tmpl;
    ledger::LedgerOptions o;
    o.path = dir + "/consentd.db";
    o.create_if_missing = true;
    o.origin = "test.example/watch";
    Result<std::unique_ptr<ledger::Ledger>> l = ledger::Ledger::Open(o);
    REQUIRE(l.ok());
    ledger = std::move(*l);
    REQUIRE(Write("CREATE TABLE watched(k BLOB PRIMARY KEY, other BLOB, v INTEGER) WITHOUT ROWID;"
                  "CREATE TABLE plain(k BLOB, v INTEGER);")
                .ok());
    Result<std::unique_ptr<ChangeWatch>> w = ChangeWatch::Open(o.path, {{"watched", {"k", "other"}}});
    INFO(w.status().ToString());
    REQUIRE(w.ok());
    watch = std::move(*w);
    watch->SetListener(&recorder);
    REQUIRE(ledger->SetCommitObserver(watch.get()).ok());
  }
  ~Env() {
    ledger.reset();
    watch.reset();
    std::error_code ec;
    std::filesystem::remove_all(dir, ec);
  }
  Status Write(const std::string& sql, bool fail = false) {
    return ledger->Append({}, [&](sqlite3* db, auto) {
                    Status s = Exec(db, sql);
                    if (s.ok() && fail) return Status::Internal("the hook fails");
                    return s;
                  })
        .status();
  }
  // A commit by another connection, as consentctl next to consentd.
  void ForeignWrite(const std::string& sql) {
    sqlite3* db = nullptr;
    REQUIRE(sqlite3_open((dir + "/consentd.db").c_str(), &db) == SQLITE_OK);
    sqlite3_busy_timeout(db, 5000);
    Status s = Exec(db, sql);
    sqlite3_close(db);
    REQUIRE(s.ok());
  }

  std::string dir;
  std::unique_ptr<ledger::Ledger> ledger;
  std::unique_ptr<ChangeWatch> watch;
  Recorder recorder;
};

TEST_CASE("Every changed row's watched key values reach the listener after the commit", "[vault][watch]") {
  Env env;
  REQUIRE(env.Write("INSERT INTO watched VALUES (x'0101', x'0a0a', 1), (x'0202', x'0b0b', 2)").ok());
  REQUIRE(env.recorder.calls.size() == 1);
  CHECK(env.recorder.calls[0].keys == std::set<std::string>{"\x01\x01", "\x02\x02", "\x0a\x0a", "\x0b\x0b"});
  CHECK_FALSE(env.recorder.calls[0].foreign);

  // An update reports the old and the new values.
  REQUIRE(env.Write("UPDATE watched SET other = x'0c0c' WHERE k = x'0101'").ok());
  CHECK(env.recorder.calls.back().keys == std::set<std::string>{"\x01\x01", "\x0a\x0a", "\x0c\x0c"});
  // A DELETE without WHERE still reports each row (no truncate shortcut).
  REQUIRE(env.Write("DELETE FROM watched").ok());
  CHECK(env.recorder.calls.back().keys == std::set<std::string>{"\x01\x01", "\x02\x02", "\x0c\x0c", "\x0b\x0b"});
  // Other tables are not reported; ledger entries are not either.
  REQUIRE(env.Write("INSERT INTO plain VALUES (x'0303', 3)").ok());
  CHECK(env.recorder.calls.back().keys.empty());
  for (const auto& c : env.recorder.calls) CHECK_FALSE(c.foreign);
  CHECK(env.watch->Poll() == ChangeWatch::PollResult::kQuiet);
}

TEST_CASE("A rolled-back write reports its rows and is not mistaken for a foreign commit", "[vault][watch]") {
  Env env;
  const std::optional<uint32_t> before = env.watch->ReadCounter();
  REQUIRE(before.has_value());
  CHECK_FALSE(env.Write("INSERT INTO watched VALUES (x'0505', x'0606', 5)", /*fail=*/true).ok());
  REQUIRE(env.recorder.calls.size() == 1);
  CHECK(env.recorder.calls[0].keys.count("\x05\x05") == 1);
  CHECK_FALSE(env.recorder.calls[0].foreign);
  // The transaction committed with nothing of this caller in it (the ledger
  // rolls back to its savepoint): at most one commit, no foreign one.
  CHECK(env.watch->Poll() == ChangeWatch::PollResult::kQuiet);
}

TEST_CASE("A transaction that ends before its COMMIT reports its rows and flushes nothing", "[vault][watch]") {
  Env env;
  REQUIRE(env.Write("INSERT INTO watched VALUES (x'0101', x'0a0a', 1)").ok());
  // A hook that ends the transaction itself: the ledger fails the batch
  // without a COMMIT (AfterCommit without BeforeCommit).
  CHECK_FALSE(env.Write("INSERT INTO watched VALUES (x'0404', x'0b0b', 4); ROLLBACK").ok());
  REQUIRE(env.recorder.calls.size() == 2);
  CHECK(env.recorder.calls.back().keys.count("\x04\x04") == 1);
  CHECK_FALSE(env.recorder.calls.back().foreign);
  CHECK(env.watch->Poll() == ChangeWatch::PollResult::kQuiet);
  REQUIRE(env.Write("INSERT INTO plain VALUES (x'01', 1)").ok());
  CHECK_FALSE(env.recorder.calls.back().foreign);
}

TEST_CASE("Commits of another connection are seen by Poll once, and by the next own commit", "[vault][watch]") {
  Env env;
  REQUIRE(env.Write("INSERT INTO watched VALUES (x'0101', x'0a0a', 1)").ok());
  CHECK(env.watch->Poll() == ChangeWatch::PollResult::kQuiet);

  env.ForeignWrite("INSERT INTO watched VALUES (x'0707', x'0808', 7)");
  CHECK(env.watch->Poll() == ChangeWatch::PollResult::kForeign);
  CHECK(env.watch->Poll() == ChangeWatch::PollResult::kQuiet);  // adopted: reported once

  // Not polled in between: the next own commit reports it as foreign.
  env.ForeignWrite("UPDATE watched SET v = 8 WHERE k = x'0707'");
  REQUIRE(env.Write("INSERT INTO watched VALUES (x'0909', x'0909', 9)").ok());
  CHECK(env.recorder.calls.back().foreign);
  CHECK(env.watch->Poll() == ChangeWatch::PollResult::kQuiet);
  REQUIRE(env.Write("INSERT INTO plain VALUES (x'01', 1)").ok());
  CHECK_FALSE(env.recorder.calls.back().foreign);
  CHECK(env.watch->Poll() == ChangeWatch::PollResult::kQuiet);
}

TEST_CASE("Own commits racing readers' polls are never taken for another connection's", "[vault][watch]") {
  Env env;
  // A commit between the watch's Open and its attach is not foreign either.
  Result<std::unique_ptr<ChangeWatch>> w = ChangeWatch::Open(env.dir + "/consentd.db", {{"watched", {"k"}}});
  REQUIRE(w.ok());
  Recorder recorder;
  (*w)->SetListener(&recorder);
  REQUIRE(env.Write("INSERT INTO plain VALUES (x'01', 1)").ok());
  REQUIRE(env.ledger->SetCommitObserver(w->get()).ok());
  std::atomic<bool> done{false};
  std::atomic<int> foreign{0}, polls{0};
  std::vector<std::thread> pollers;
  for (int t = 0; t < 2; ++t) {
    pollers.emplace_back([&] {
      while (!done.load()) {
        if ((*w)->Poll() == ChangeWatch::PollResult::kForeign) foreign.fetch_add(1);
        polls.fetch_add(1);
      }
    });
  }
  bool all_written = true;
  for (int i = 0; i < 300 && all_written; ++i) {
    char key[8];
    std::snprintf(key, sizeof key, "%04x", i);
    all_written = env.Write("INSERT INTO watched VALUES (x'" + std::string(key) + "', x'00', 0)").ok();
  }
  done.store(true);
  for (std::thread& t : pollers) t.join();
  REQUIRE(all_written);
  CHECK(foreign.load() == 0);
  CHECK(polls.load() > 300);
  REQUIRE(recorder.calls.size() == 300);
  for (const auto& c : recorder.calls) CHECK_FALSE(c.foreign);
  REQUIRE(env.ledger->SetCommitObserver(env.watch.get()).ok());
}

TEST_CASE("The watch's WAL hook still checkpoints automatically, at the connection's setting", "[vault][watch]") {
  Env env;
  // Before attaching: a small automatic checkpoint, which the watch reads.
  REQUIRE(env.ledger->SetCommitObserver(nullptr).ok());
  REQUIRE(env.Write("PRAGMA wal_autocheckpoint=20").ok());
  REQUIRE(env.ledger->SetCommitObserver(env.watch.get()).ok());
  CHECK(env.watch->auto_checkpoint_frames() == 20);
  for (int i = 0; i < 120; ++i) REQUIRE(env.Write("INSERT INTO plain VALUES (x'01', " + std::to_string(i) + ")").ok());
  // 120 commits of at least one frame each; checkpointed every 20 frames,
  // the WAL restarts from its beginning and stays short.
  const auto wal_bytes = std::filesystem::file_size(env.dir + "/consentd.db-wal");
  // The page size from the database header (bytes 16-17, big-endian).
  std::ifstream header(env.dir + "/consentd.db", std::ios::binary);
  unsigned char b[18] = {};
  REQUIRE(header.read(reinterpret_cast<char*>(b), sizeof b));
  const size_t page = (static_cast<size_t>(b[16]) << 8) | b[17];
  REQUIRE(page >= 4096);
  CHECK(wal_bytes < 60 * (page + 24));
  CHECK(env.recorder.calls.size() >= 120);
  CHECK(env.watch->Poll() == ChangeWatch::PollResult::kQuiet);
}

TEST_CASE("The WAL-index counter moves once per commit and not for reads or checkpoints", "[vault][watch]") {
  Env env;
  const uint32_t c0 = *env.watch->ReadCounter();
  REQUIRE(env.Write("INSERT INTO plain VALUES (x'01', 1)").ok());
  CHECK(*env.watch->ReadCounter() == c0 + 1);
  env.ForeignWrite("SELECT count(*) FROM plain");
  CHECK(*env.watch->ReadCounter() == c0 + 1);
  env.ForeignWrite("PRAGMA wal_checkpoint(PASSIVE)");
  CHECK(*env.watch->ReadCounter() == c0 + 1);
  CHECK(env.watch->Poll() == ChangeWatch::PollResult::kQuiet);
}

TEST_CASE("A watched column that does not exist refuses the attach", "[vault][watch]") {
  Env env;
  Result<std::unique_ptr<ChangeWatch>> w = ChangeWatch::Open(env.dir + "/consentd.db", {{"watched", {"missing"}}});
  REQUIRE(w.ok());
  CHECK(env.ledger->SetCommitObserver(w->get()).code() == StatusCode::kFailedPrecondition);
  // The first watch stays attached.
  REQUIRE(env.Write("INSERT INTO watched VALUES (x'0101', x'0a0a', 1)").ok());
  CHECK(env.recorder.calls.back().keys.count("\x01\x01") == 1);
}

TEST_CASE("A database that is not in WAL mode has no watch", "[vault][watch]") {
  std::string tmpl = (std::filesystem::temp_directory_path() / "consentd-watch-XXXXXX").string();
  REQUIRE(::mkdtemp(tmpl.data()) != nullptr);
  sqlite3* db = nullptr;
  REQUIRE(sqlite3_open((tmpl + "/rollback.db").c_str(), &db) == SQLITE_OK);
  REQUIRE(Exec(db, "CREATE TABLE t(x)").ok());
  Result<std::unique_ptr<ChangeWatch>> w = ChangeWatch::Open(tmpl + "/rollback.db", {});
  CHECK(w.status().code() == StatusCode::kFailedPrecondition);
  sqlite3_close(db);
  std::error_code ec;
  std::filesystem::remove_all(tmpl, ec);
}

}  // namespace
}  // namespace consentd::vault
