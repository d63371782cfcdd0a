// FileWriter: a LedgerWriter over a SQLite file of its own, without a
// ledger: for tables whose rows need no ledger entry and should not share
// the ledger's database (the access log: its steady writes would otherwise
// make every read connection of the main database drop its page cache,
// which SQLite does whenever another connection wrote). Same durability as
// the ledger: WAL with synchronous=FULL, OK only once the commit is durable.
//
// Thread-safety: thread-safe; writes are serialized.
#ifndef CONSENTD_VAULT_FILE_WRITER_H_
#define CONSENTD_VAULT_FILE_WRITER_H_

#include <memory>
#include <mutex>
#include <string>

#include "src/base/result.h"
#include "src/vault/ledger_writer.h"

struct sqlite3;

namespace consentd::vault {

class FileWriter final : public LedgerWriter {
 public:
  // Opens (creating when missing) the database at `path`.
  static Result<std::unique_ptr<FileWriter>> Open(const std::string& path);
  ~FileWriter() override;
  FileWriter(const FileWriter&) = delete;
  FileWriter& operator=(const FileWriter&) = delete;

  // Runs `hook` in one transaction. kInvalidArgument when `entries` is not
  // empty: this file has no ledger.
  Status Write(std::vector<ledger::NewEntry> entries, ledger::WriteHook hook) override;

 private:
  explicit FileWriter(sqlite3* db) : db_(db) {}
  std::mutex mu_;
  sqlite3* db_;
};

}  // namespace consentd::vault

#endif  // CONSENTD_VAULT_FILE_WRITER_H_
