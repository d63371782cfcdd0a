#include "src/vault/file_writer.h"

#include <sqlite3.h>

#include "src/vault/sqlite_database.h"

namespace consentd::vault {

Result<std::unique_ptr<FileWriter>> FileWriter::Open(const std::string& path) {
  sqlite3* db = nullptr;
  int rc = sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                           nullptr);
  if (rc != SQLITE_OK) {
    sqlite3_close(db);
    return Status::IOError("cannot open " + path);
  }
  sqlite3_busy_timeout(db, 5000);
  Status s = Exec(db, "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;");
  if (!s.ok()) {
    sqlite3_close(db);
    return s.WithContext(path);
  }
  return std::unique_ptr<FileWriter>(new FileWriter(db));
}

FileWriter::~FileWriter() { sqlite3_close(db_); }

Status FileWriter::Write(std::vector<ledger::NewEntry> entries, ledger::WriteHook hook) {
  if (!entries.empty()) return Status::InvalidArgument("this database has no ledger");
  std::lock_guard<std::mutex> l(mu_);
  Status s = Exec(db_, "BEGIN IMMEDIATE");
  if (!s.ok()) return s;
  if (hook) s = hook(db_, {});
  if (s.ok()) s = Exec(db_, "COMMIT");
  if (!s.ok()) (void)Exec(db_, "ROLLBACK");
  return s;
}

}  // namespace consentd::vault
