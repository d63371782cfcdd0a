// consentd's own signed webhook format, inbound (docs/webhooks.md "Signed
// webhooks (custom sources)"): for sources without an adapter of their own.
// The same header format as the outbound signed webhook (signed_webhook.h):
//
//   <signature header>: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>[,v1=<hex>...]
//
// Several v1 values are allowed (a sender rotating its secret signs with
// both). The timestamp must be within the window of now, so a captured
// request cannot be replayed later (within the window, the event id
// de-duplicates it).
//
// Body: one event object, or {"events":[...]} with up to 1000:
//   {"id":"evt_1","type":"consent.updated","occurred_at":"2025-01-01T00:00:00Z",
//    "identifiers":[{"kind":"email","value":"a@example.com"}],
//    "purpose":"email_marketing","decision":"granted","method":"preference_centre"}
// type: consent.updated (purpose, decision; method optional, default
// "webhook"), erasure.requested, access.requested.
//
// Thread-safety: pure functions.
#ifndef CONSENTD_ADAPTERS_WEBHOOK_CONSENTD_H_
#define CONSENTD_ADAPTERS_WEBHOOK_CONSENTD_H_

#include <cstdint>
#include <string>
#include <string_view>

#include "adapters/webhook_event.h"
#include "src/base/result.h"

namespace consentd::adapters {

struct ConsentdWebhookOptions {
  std::string signature_header = "X-Consentd-Signature";
  int64_t window_ms = 5 * 60 * 1000;
};

// The header value for `body` signed at `unix_seconds`.
std::string SignConsentdWebhook(std::string_view secret, int64_t unix_seconds, std::string_view body);

Verdict VerifyConsentdWebhook(const WebhookRequest& request, std::string_view secret, int64_t now_ms,
                              const ConsentdWebhookOptions& options = {});

// kInvalidArgument (naming the member) for anything but the format above.
Result<WebhookBatch> MapConsentdWebhook(const WebhookRequest& request);

}  // namespace consentd::adapters

#endif  // CONSENTD_ADAPTERS_WEBHOOK_CONSENTD_H_
