// consentctl's erasure commands (docs/cli.md "Erasure requests"):
//   consentctl request file|list|show|verify|reject|extend|cancel ...
//   consentctl certificate show ID [--out FILE]
//   consentctl certificate verify FILE --verifier-key K      (offline)
// They open the data directory like the other commands (the request
// commands write through the same ledger as a running consentd).
//
// Exit codes as consentctl's: 0 success; 1 a certificate does not verify;
// 2 usage or input error (and 409-like refusals: a transition not allowed);
// 3 operational error.
#ifndef CONSENTD_APP_CTL_ERASURE_H_
#define CONSENTD_APP_CTL_ERASURE_H_

#include <CLI/CLI.hpp>

namespace consentd::app {

// Adds the "request" and "certificate" commands; their exit code goes to *rc.
void RegisterErasureCommands(CLI::App& app, int* rc);

}  // namespace consentd::app

#endif  // CONSENTD_APP_CTL_ERASURE_H_
