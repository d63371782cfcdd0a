// FileWriter: a hook's rows commit together or not at all, entries are
// refused (the file has no ledger), and what committed is there after
// reopening.
#include "src/vault/file_writer.h"

#include <sqlite3.h>
#include <stdlib.h>

#include <catch2/catch.hpp>
#include <filesystem>

#include "src/vault/sqlite_database.h"

namespace consentd::vault {
namespace {

int64_t Rows(const std::string& path) {
  sqlite3* db = nullptr;
  REQUIRE(sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr) == SQLITE_OK);
  sqlite3_stmt* st = nullptr;
  REQUIRE(sqlite3_prepare_v2(db, "SELECT count(*) FROM t", -1, &st, nullptr) == SQLITE_OK);
  REQUIRE(sqlite3_step(st) == SQLITE_ROW);
  const int64_t n = sqlite3_column_int64(st, 0);
  sqlite3_finalize(st);
  sqlite3_close(db);
  return n;
}

TEST_CASE("FileWriter commits a hook's rows together, rolls a failed hook back and refuses ledger entries",
          "[vault][file_writer]") {
  std::string tmpl = (std::filesystem::temp_directory_path() / "consentd-file-writer-XXXXXX").string();
  REQUIRE(::mkdtemp(tmpl.data()) != nullptr);
  const std::string path = tmpl + "/a.db";
  {
    Result<std::unique_ptr<FileWriter>> w = FileWriter::Open(path);
    REQUIRE(w.ok());
    REQUIRE((*w)->Write({}, [](sqlite3* db, auto) { return Exec(db, "CREATE TABLE t(x INTEGER)"); }).ok());
    REQUIRE((*w)->Write({}, [](sqlite3* db, auto) {
                  return Exec(db, "INSERT INTO t VALUES (1); INSERT INTO t VALUES (2);");
                }).ok());
    Status failed = (*w)->Write({}, [](sqlite3* db, auto) {
      Status s = Exec(db, "INSERT INTO t VALUES (3)");
      return s.ok() ? Status::IOError("injected") : s;
    });
    CHECK(failed.code() == StatusCode::kIOError);
    std::vector<ledger::NewEntry> entries(1);
    CHECK((*w)->Write(std::move(entries), nullptr).code() == StatusCode::kInvalidArgument);
    // The writer is usable after a failure.
    REQUIRE((*w)->Write({}, [](sqlite3* db, auto) { return Exec(db, "INSERT INTO t VALUES (4)"); }).ok());
  }
  CHECK(Rows(path) == 3);  // 1, 2 and 4: the failed hook's row rolled back
  CHECK(FileWriter::Open(tmpl + "/missing-dir/b.db").status().code() == StatusCode::kIOError);
  std::filesystem::remove_all(tmpl);
}

}  // namespace
}  // namespace consentd::vault
