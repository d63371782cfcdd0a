// Erasure routes (docs/api.md "Erasure requests"), scope officer:
//   POST /v1/erasure-requests                     file a request (or link a duplicate)
//   GET  /v1/erasure-requests?state=&due_before=&due_within=&overdue=&limit=
//                                                 list by due date
//   GET  /v1/erasure-requests/{id}                one request with per-system progress
//   POST /v1/erasure-requests/{id}/verify         received -> verified -> propagating
//   POST /v1/erasure-requests/{id}/reject         {"reason": code}
//   POST /v1/erasure-requests/{id}/extend         {"reason": code}, once, before the deadline
//   POST /v1/erasure-requests/{id}/cancel         {"reason": code}
//   GET  /v1/erasure-requests/{id}/certificate    signed certificate (docs/erasure.md §5)
//   POST /v1/tombstones/lift                      a first-party opt-in lifts tombstones
//
// Thread-safety: the handlers are thread-safe.
#ifndef CONSENTD_API_ERASURE_ROUTES_H_
#define CONSENTD_API_ERASURE_ROUTES_H_

#include <nlohmann/json.hpp>

#include "ledger/note.h"
#include "src/base/clock.h"
#include "src/erasure/erasure_service.h"
#include "src/http/server.h"

namespace consentd::api {

// `signer` signs certificates (null: the certificate route answers 503).
// Everything must outlive the server.
void RegisterErasureRoutes(http::HttpServer& server, erasure::ErasureService& erasure, const ledger::Signer* signer,
                           const Clock& clock);

// The JSON view of a request (also what `consentctl request show` prints).
nlohmann::json EncodeErasureRequest(const erasure::ErasureRequest& r, int64_t now_ms);

}  // namespace consentd::api

#endif  // CONSENTD_API_ERASURE_ROUTES_H_
