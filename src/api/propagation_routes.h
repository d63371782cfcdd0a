// Operator routes of propagation (docs/api.md "Propagation"), scopes admin
// or officer:
//   GET  /v1/admin/outbox?state=&system=&after=&limit=   list rows, oldest first
//   GET  /v1/admin/outbox/{id}                           one row (no personal data)
//   POST /v1/admin/outbox/{id}/replay                    dead -> pending
//   POST /v1/admin/outbox/{id}/discard                   dead -> discarded (+ outcome entry)
//   POST /v1/admin/dead-letters/replay?system=           every dead row (of a system)
//   GET  /v1/admin/systems                               status of every system
//   POST /v1/admin/systems/{id}/pause | /resume
// Errors are problem+json: 400 for a bad parameter, 404 for an unknown row
// or system, 409 when the row's state forbids the operation.
//
// Thread-safety: the handlers are thread-safe.
#ifndef CONSENTD_API_PROPAGATION_ROUTES_H_
#define CONSENTD_API_PROPAGATION_ROUTES_H_

#include "src/base/clock.h"
#include "src/http/server.h"
#include "src/propagation/dispatcher.h"
#include "src/propagation/outbox.h"

namespace consentd::api {

// `dispatcher` (may be null) adds each system's adapter availability to
// GET /v1/admin/systems. All references must outlive the server.
void RegisterPropagationRoutes(http::HttpServer& server, propagation::Outbox& outbox,
                               const propagation::Dispatcher* dispatcher, const Clock& clock);

}  // namespace consentd::api

#endif  // CONSENTD_API_PROPAGATION_ROUTES_H_
