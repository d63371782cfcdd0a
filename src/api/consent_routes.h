// Consent routes (docs/api.md "Consent"):
//   POST /v1/consents             record one event        officer, ingest:<system of the event>
//   POST /v1/consents/bulk        up to max_bulk_events   officer, ingest:<system of every event>
//   GET  /v1/consents?<kind>=<value>&purpose=P[&qualifier=Q][&jurisdiction=J]
//                                 may we?                 marketing, officer
//   POST /v1/consents/check       up to max_check_identifiers identifiers, one purpose
//                                                         marketing, officer
//   GET  /v1/suppressions?purpose=P
//                                 SHA-256 of normalized emails of subjects who withdrew
//                                                         marketing, officer
//   GET  /v1/subjects/{sid}/history
//   GET  /v1/consents/history?<kind>=<value>
//                                 consent history with decrypted evidence   officer
//
// Thread-safety: the handlers are thread-safe.
#ifndef CONSENTD_API_CONSENT_ROUTES_H_
#define CONSENTD_API_CONSENT_ROUTES_H_

#include "src/http/server.h"
#include "src/service/runtime.h"

namespace consentd::api {

void RegisterConsentRoutes(http::HttpServer& server, service::Runtime& runtime);

}  // namespace consentd::api

#endif  // CONSENTD_API_CONSENT_ROUTES_H_
