// consentctl's propagation commands (docs/cli.md "Propagation"):
//   consentctl dlq list    --data-dir D [--system S] [--state dead|...|all] [--limit N] [--json]
//   consentctl dlq show    --data-dir D --id N
//   consentctl dlq replay  --data-dir D (--id N | --all [--system S])
//   consentctl dlq discard --data-dir D --id N
//   consentctl system list   --data-dir D [--json]
//   consentctl system pause  --data-dir D --system S
//   consentctl system resume --data-dir D --system S
// They work on the data directory while consentd runs (SQLite is
// multi-process; consentd's dispatcher notices pauses and replays within
// its poll interval). Output names rows by id, pseudonym and codes only.
//
// Exit codes as consentctl: 0 done; 2 usage; 3 operational error, unknown
// row or system, or a state that forbids the operation.
//
// Thread-safety: single-threaded (a command line tool).
#ifndef CONSENTD_APP_CTL_PROPAGATION_H_
#define CONSENTD_APP_CTL_PROPAGATION_H_

#include <CLI/CLI.hpp>

namespace consentd::app {

// Adds the `dlq` and `system` subcommands to `app`; the chosen command's
// exit code is stored in *rc.
void RegisterPropagationCommands(CLI::App& app, int* rc);

}  // namespace consentd::app

#endif  // CONSENTD_APP_CTL_PROPAGATION_H_
