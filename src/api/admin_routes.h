// Operational routes: health, readiness and metrics (docs/api.md
// "Operations"), and token administration (scope admin):
//   GET    /healthz                 liveness, no token
//   GET    /readyz                  readiness, no token
//   GET    /metrics                 Prometheus text (admin)
//   POST   /v1/admin/tokens         {"name","scopes":[...]} -> 201 {"id","token"}
//   GET    /v1/admin/tokens         list (no secrets)
//   DELETE /v1/admin/tokens/{id}    revoke
//
// Thread-safety: the handlers are thread-safe.
#ifndef CONSENTD_API_ADMIN_ROUTES_H_
#define CONSENTD_API_ADMIN_ROUTES_H_

#include <atomic>

#include "src/http/server.h"
#include "src/obs/metrics.h"
#include "src/service/runtime.h"

namespace consentd::api {

// `ready` turns true once the service has started; the runtime and metrics
// must outlive the server.
void RegisterAdminRoutes(http::HttpServer& server, service::Runtime& runtime, obs::MetricsRegistry& metrics,
                         const std::atomic<bool>& ready);

}  // namespace consentd::api

#endif  // CONSENTD_API_ADMIN_ROUTES_H_
