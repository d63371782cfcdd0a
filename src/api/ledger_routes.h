// The ledger's read API for auditors (docs/api.md "Ledger"), scope auditor,
// or no token when the config sets "ledger_public": true:
//   GET /ledger/checkpoint                   published checkpoint note with cosignatures (text/plain)
//   GET /ledger/tile/<L>/<N>[.p/<W>]         C2SP tlog-tiles hash tile (application/octet-stream)
//   GET /ledger/tile/entries/<N>[.p/<W>]     entry bundle
//   GET /v1/ledger/entries?start=&end=       exact entry bytes, base64 in JSON (at most 1000)
//   GET /v1/ledger/proofs/inclusion?index=[&size=]
//   GET /v1/ledger/proofs/consistency?from=[&to=]
//   GET /v1/ledger/bundles/{index}           c2sp.org/tlog-proof receipt (text/plain)
//   GET /v1/ledger/verifier-key              log and witness keys
// Everything is served against the published checkpoint (witness::
// CheckpointPublisher): tiles, entries and proofs beyond its size are 404 or
// 400, and proofs only against sizes the log signed.
//
// Thread-safety: the handlers are thread-safe.
#ifndef CONSENTD_API_LEDGER_ROUTES_H_
#define CONSENTD_API_LEDGER_ROUTES_H_

#include <memory>

#include "src/http/server.h"
#include "src/obs/logger.h"
#include "src/service/runtime.h"
#include "src/witness/publisher.h"

namespace consentd::api {

// Starts the publisher (and the witness threads) configured in the runtime's
// config: witnesses, witness_quorum, witness_timeout_ms.
Result<std::unique_ptr<witness::CheckpointPublisher>> StartCheckpointPublisher(service::Runtime& runtime,
                                                                               const obs::Logger& logger);

// The runtime and the publisher must outlive the server.
void RegisterLedgerRoutes(http::HttpServer& server, service::Runtime& runtime,
                          const witness::CheckpointPublisher& publisher);

}  // namespace consentd::api

#endif  // CONSENTD_API_LEDGER_ROUTES_H_
