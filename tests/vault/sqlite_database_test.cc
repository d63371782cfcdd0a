// vault::Database's pool of read connections: concurrent readers on
// different threads each get a connection of their own and see committed
// writes; a thread that holds the locks of two Databases at once uses the
// right connection of each, also after many Databases came and went.
#include "src/vault/sqlite_database.h"

#include <sqlite3.h>

#include <atomic>
#include <catch2/catch.hpp>
#include <filesystem>
#include <thread>
#include <vector>

namespace consentd::vault {
namespace {

struct TempDb {
  TempDb() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "consentd-sqlitedb-XXXXXX").string();
    REQUIRE(::mkdtemp(tmpl.data()) != nullptr);
    dir = tmpl;
    path = dir + "/t.db";
    sqlite3* db = nullptr;
    REQUIRE(sqlite3_open(path.c_str(), &db) == SQLITE_OK);
    REQUIRE(Exec(db, "PRAGMA journal_mode=WAL; CREATE TABLE t(k INTEGER PRIMARY KEY, v TEXT NOT NULL);").ok());
    writer = db;
  }
  ~TempDb() {
    sqlite3_close(writer);
    std::error_code ec;
    std::filesystem::remove_all(dir, ec);
  }
  std::string dir, path;
  sqlite3* writer = nullptr;
};

// Row k's value on the connection this thread holds (REQUIRES: Lock());
// "<error>" on failure. No Catch2 assertion inside: it runs on threads.
std::string Read(Database& d, int64_t k) {
  Result<Stmt> q = d.Cached("SELECT v FROM t WHERE k = ?");
  if (!q.ok()) return "<error>";
  q->Bind(1, k);
  Result<bool> row = q->Step();
  if (!row.ok()) return "<error>";
  return *row ? q->Text(0) : std::string();
}
std::string ValueOfUnlocked(Database& d) { return Read(d, 1); }

std::string ValueOf(Database& d, int64_t k) {
  auto lock = d.Lock();
  return Read(d, k);
}

TEST_CASE("Readers on several threads use connections of their own and see committed rows", "[vault][sqlite]") {
  TempDb t;
  REQUIRE(Exec(t.writer, "INSERT INTO t VALUES (1, 'one'), (2, 'two');").ok());
  Result<std::unique_ptr<Database>> d = Database::Open(t.path);
  REQUIRE(d.ok());
  Database& db = **d;

  // While one thread holds a connection, another thread is not kept waiting.
  {
    auto held = db.Lock();
    sqlite3* mine = db.handle();
    std::atomic<sqlite3*> other{nullptr};
    std::string value;
    std::thread th([&] {
      auto lock = db.Lock();
      other = db.handle();
      value = ValueOfUnlocked(db);
    });
    th.join();
    CHECK(value == "one");
    REQUIRE(other.load() != nullptr);
    CHECK(other.load() != mine);
  }

  // Concurrent readers all get right answers, and writes are visible after
  // they commit.
  std::atomic<int> wrong{0};
  std::vector<std::thread> readers;
  for (int i = 0; i < 8; ++i) {
    readers.emplace_back([&] {
      for (int n = 0; n < 500; ++n) {
        if (ValueOf(db, 2) != "two") ++wrong;
      }
    });
  }
  for (std::thread& th : readers) th.join();
  CHECK(wrong == 0);
  REQUIRE(Exec(t.writer, "UPDATE t SET v = 'deux' WHERE k = 2;").ok());
  std::vector<std::string> after(4);
  std::vector<std::thread> more;
  for (int i = 0; i < 4; ++i) more.emplace_back([&, i] { after[i] = ValueOf(db, 2); });
  for (std::thread& th : more) th.join();
  for (const std::string& v : after) CHECK(v == "deux");
}

TEST_CASE("A thread holding the locks of two Databases uses each one's own connection", "[vault][sqlite]") {
  TempDb a, b;
  REQUIRE(Exec(a.writer, "INSERT INTO t VALUES (1, 'from a');").ok());
  REQUIRE(Exec(b.writer, "INSERT INTO t VALUES (1, 'from b');").ok());
  Result<std::unique_ptr<Database>> da = Database::Open(a.path);
  REQUIRE(da.ok());
  // Many Databases opened and used by this thread before (their entries in
  // the thread's table go stale).
  for (int i = 0; i < 20; ++i) {
    Result<std::unique_ptr<Database>> tmp = Database::Open(b.path);
    REQUIRE(tmp.ok());
    CHECK(ValueOf(**tmp, 1) == "from b");
  }
  Result<std::unique_ptr<Database>> db = Database::Open(b.path);
  REQUIRE(db.ok());
  auto la = (*da)->Lock();
  auto lb = (*db)->Lock();
  CHECK(ValueOfUnlocked(**da) == "from a");
  CHECK(ValueOfUnlocked(**db) == "from b");
}

}  // namespace
}  // namespace consentd::vault
