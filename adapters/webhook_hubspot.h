// HubSpot webhooks, inbound (../shared/reference/downstream-apis.md §3.5,
// docs/webhooks.md "HubSpot"): signature v3 (and, when enabled, v1/v2) and
// the mapping of contact events to ingest events.
//
// Thread-safety: pure functions.
#ifndef CONSENTD_ADAPTERS_WEBHOOK_HUBSPOT_H_
#define CONSENTD_ADAPTERS_WEBHOOK_HUBSPOT_H_

#include <cstdint>
#include <map>
#include <string>
#include <string_view>

#include "adapters/webhook_event.h"
#include "src/base/result.h"

namespace consentd::adapters {

// The signatures HubSpot sends, for tests and for the verifier.
// v3: base64(HMAC-SHA256(secret, method + uri + body + timestamp)).
std::string HubSpotSignatureV3(std::string_view secret, std::string_view method, std::string_view uri,
                               std::string_view body, std::string_view timestamp);
// v1: hex(SHA-256(secret + body)); v2: hex(SHA-256(secret + method + uri + body)).
std::string HubSpotSignatureV1(std::string_view secret, std::string_view body);
std::string HubSpotSignatureV2(std::string_view secret, std::string_view method, std::string_view uri,
                               std::string_view body);

// The URI with the percent-escapes HubSpot's v3 documentation says to decode
// before signing (%3A %2F %3F %40 %21 %24 %27 %28 %29 %2A %2C %3B; the exact
// list is UNCONFIRMED, so the verifier tries the URI as given and decoded).
std::string HubSpotDecodeUri(std::string_view uri);

struct HubSpotVerifyOptions {
  int64_t window_ms = 5 * 60 * 1000;  // X-HubSpot-Request-Timestamp must be within this of now
  // v1 and v2 carry no timestamp, so a captured request can be replayed
  // forever: accepted only when enabled (legacy apps) and never when v3
  // headers are present.
  bool accept_v1_v2 = false;
};

// Verifies X-HubSpot-Signature-v3 with X-HubSpot-Request-Timestamp (epoch
// ms) against each of request.urls (as given and decoded), or with
// accept_v1_v2 the X-HubSpot-Signature of X-HubSpot-Signature-Version.
Verdict VerifyHubSpot(const WebhookRequest& request, std::string_view client_secret, int64_t now_ms,
                      const HubSpotVerifyOptions& options = {});

struct HubSpotMapping {
  // Subscription type id -> purpose: "hs_email_optout_<id>" property changes
  // set that purpose (from the instance's subscription_ids option).
  std::map<std::string, std::string> subscription_purposes;
};

// Maps a verified delivery: a JSON array of events, each de-duplicated by
// its eventId, timed by occurredAt (epoch ms).
//   contact.propertyChange hs_email_optout          email channel: "true" withdraws, "false" grants
//   contact.propertyChange hs_email_optout_<subid>  the purpose mapped to <subid>
//   contact.propertyChange email                    link of the contact id and the new address
//   contact.privacyDeletion                         erasure request (hubspot_contact id)
//   contact.creation, contact.deletion, others      ignored
// kInvalidArgument for a body that is not an array of objects with eventId.
Result<WebhookBatch> MapHubSpot(const WebhookRequest& request, const HubSpotMapping& mapping);

}  // namespace consentd::adapters

#endif  // CONSENTD_ADAPTERS_WEBHOOK_HUBSPOT_H_
