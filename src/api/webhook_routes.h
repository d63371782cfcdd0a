// Webhook routes: POST /v1/webhooks/{kind}/{instance} per configured system
// instance (and Mailchimp's GET validation and secret-in-path form),
// authorised by each system's own signature scheme, NOT by bearer tokens;
// and GET /v1/access-requests (officer). docs/webhooks.md, docs/api.md.
//
// Thread-safety: handlers are thread-safe (WebhookIngest is).
#ifndef CONSENTD_API_WEBHOOK_ROUTES_H_
#define CONSENTD_API_WEBHOOK_ROUTES_H_

#include "src/http/server.h"
#include "src/ingest/webhook_ingest.h"

namespace consentd::api {

// `ingest` must outlive the server. `tls`: the server speaks HTTPS (the
// scheme of the URL HubSpot signs).
void RegisterWebhookRoutes(http::HttpServer& server, ingest::WebhookIngest& ingest, size_t max_body_bytes, bool tls);

}  // namespace consentd::api

#endif  // CONSENTD_API_WEBHOOK_ROUTES_H_
