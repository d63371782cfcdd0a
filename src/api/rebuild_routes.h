// The rebuild check over HTTP (docs/api.md "Operations"), scope admin:
//   POST /v1/admin/rebuild-check   {} or {"max_listed": N}
//     -> 200 {"equal": bool, "ledger_size", "consent_entries", "merges",
//             "rows_rebuilt", "rows_live", "rank_unverified",
//             "total_differences", "differences": [{"sid","purpose","field",
//             "ledger","table"}]}
// It replays the ledger on a connection of its own (service/rebuild.h), so
// it never blocks consent queries or recording; at most one runs at a time
// (a second request gets 503 while one runs).
//
// Thread-safety: the handler is thread-safe.
#ifndef CONSENTD_API_REBUILD_ROUTES_H_
#define CONSENTD_API_REBUILD_ROUTES_H_

#include "src/http/server.h"
#include "src/service/runtime.h"

namespace consentd::api {

// The runtime must outlive the server.
void RegisterRebuildRoutes(http::HttpServer& server, service::Runtime& runtime);

}  // namespace consentd::api

#endif  // CONSENTD_API_REBUILD_ROUTES_H_
