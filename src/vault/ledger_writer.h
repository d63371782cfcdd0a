// LedgerWriter: commits ledger entries and the caller's own rows in one
// durable SQLite transaction. The identity and vault layers write every row
// through it, so that a link, merge, shred or rotation step and its ledger
// entry commit together or not at all.
//
// LedgerAppender is the production implementation over ledger::Ledger;
// tests use a fake over a plain SQLite file.
//
// Thread-safety: implementations must be thread-safe.
#ifndef CONSENTD_VAULT_LEDGER_WRITER_H_
#define CONSENTD_VAULT_LEDGER_WRITER_H_

#include <utility>
#include <vector>

#include "ledger/ledger.h"
#include "src/base/status.h"

namespace consentd::vault {

class LedgerWriter {
 public:
  virtual ~LedgerWriter() = default;

  // Appends `entries` (possibly none) and runs `hook` on the database
  // connection in the same transaction. OK only once that transaction is
  // durable; on failure nothing of this call is stored. The hook must not
  // begin, commit or roll back transactions; its non-OK status is returned.
  virtual Status Write(std::vector<ledger::NewEntry> entries, ledger::WriteHook hook) = 0;

  // The same for entries ledger::Ledger::Check passed: a writer that
  // appends to a ledger skips the checks; by default they are plain
  // entries again, written (and checked) by Write.
  virtual Status WriteChecked(ledger::CheckedEntries entries, ledger::WriteHook hook) {
    return Write(std::move(entries).Release(), std::move(hook));
  }
};

// Writes through ledger::Ledger::Append. The ledger must outlive this.
class LedgerAppender final : public LedgerWriter {
 public:
  explicit LedgerAppender(ledger::Ledger& ledger) : ledger_(ledger) {}
  Status Write(std::vector<ledger::NewEntry> entries, ledger::WriteHook hook) override {
    return ledger_.Append(std::move(entries), std::move(hook)).status();
  }
  Status WriteChecked(ledger::CheckedEntries entries, ledger::WriteHook hook) override {
    return ledger_.AppendChecked(std::move(entries), std::move(hook)).status();
  }

 private:
  ledger::Ledger& ledger_;
};

}  // namespace consentd::vault

#endif  // CONSENTD_VAULT_LEDGER_WRITER_H_
