// consentctl's auditor commands (docs/cli.md "Auditing"):
//   ledger bundle --data-dir D --index N [--out FILE]
//       writes a c2sp.org/tlog-proof receipt of entry N against the latest
//       signed checkpoint (docs/ledger-format.md §13)
//   ledger verify-bundle FILE --verifier-key K [--witness-key W ...] [--min-cosignatures K]
//       verifies a receipt offline; exit 0 OK, 1 FAIL, 2 usage, 3 unreadable
//   ledger watch --url U --verifier-key K [--state FILE] [--interval S] [--once] [--token T]
//       follows a consentd ledger over HTTP: verifies each checkpoint's
//       signature and its consistency with the last verified one (kept in
//       FILE); exit 1 with "ALARM: ..." on a fork, rollback or bad signature,
//       3 when the log cannot be reached (--once)
//
// Thread-safety: single-threaded command-line code.
#ifndef CONSENTD_APP_CTL_LEDGER_AUDIT_H_
#define CONSENTD_APP_CTL_LEDGER_AUDIT_H_

#include <CLI/CLI.hpp>

namespace consentd::app {

// Adds the commands under `ledger`; the chosen command's exit code goes to *rc.
void AddLedgerAuditCommands(CLI::App& ledger, int* rc);

}  // namespace consentd::app

#endif  // CONSENTD_APP_CTL_LEDGER_AUDIT_H_
