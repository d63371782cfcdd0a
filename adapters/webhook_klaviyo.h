// Klaviyo system webhooks, inbound (../shared/reference/downstream-apis.md
// §5.4, docs/webhooks.md "Klaviyo"). Klaviyo's own documentation does not
// state the signature construction; the reference takes
// hex(HMAC-SHA256(secret, raw body + Klaviyo-Timestamp)) from a third-party
// guide (UNCONFIRMED), so the header names, the encoding and the window are
// options. Payload shapes are UNCONFIRMED too: the mapper reads the members
// listed below and ignores what it does not recognise.
//
// Thread-safety: pure functions.
#ifndef CONSENTD_ADAPTERS_WEBHOOK_KLAVIYO_H_
#define CONSENTD_ADAPTERS_WEBHOOK_KLAVIYO_H_

#include <cstdint>
#include <string>
#include <string_view>

#include "adapters/webhook_event.h"
#include "src/base/result.h"

namespace consentd::adapters {

struct KlaviyoWebhookOptions {
  std::string signature_header = "Klaviyo-Signature";
  std::string timestamp_header = "Klaviyo-Timestamp";
  std::string webhook_id_header = "Klaviyo-Webhook-Id";
  std::string encoding = "hex";        // "hex" or "base64"
  int64_t window_ms = 5 * 60 * 1000;   // timestamp within this of now; 0: not checked
};

// HMAC-SHA256(secret, body + timestamp), encoded as `encoding`.
std::string KlaviyoSignature(std::string_view secret, std::string_view body, std::string_view timestamp,
                             std::string_view encoding = "hex");

// The timestamp header may be RFC 3339 or epoch seconds or milliseconds.
Verdict VerifyKlaviyo(const WebhookRequest& request, std::string_view secret, int64_t now_ms,
                      const KlaviyoWebhookOptions& options = {});

// Maps {"data":[{"topic":..,"payload":{..}}...],"meta":{..}}. Per item:
// identifiers payload.profile_id | payload.profile.id (klaviyo_profile),
// payload.email | payload.profile.email | payload.profile.attributes.email,
// payload.phone_number | payload.profile.phone_number; time payload.timestamp
// | payload.datetime | meta.timestamp; dedupe key payload.id |
// payload.event_id | item id, else the body's digest and the index.
// Topics (the part after "event:klaviyo."):
//   subscribed_to_email_marketing, subscribed_to_list          email granted
//   unsubscribed_from_email_marketing, unsubscribed_from_list,
//   unsubscribed                                               email withdrawn
//   marked_email_as_spam                                       email withdrawn (spam_complaint)
//   subscribed_to_sms_marketing / unsubscribed_from_sms_marketing  SMS granted / withdrawn
//   updated_email_address, updated_profile                     link
//   bounced_email, dropped_email                               ignored (a bounce is not a decision)
Result<WebhookBatch> MapKlaviyo(const WebhookRequest& request);

}  // namespace consentd::adapters

#endif  // CONSENTD_ADAPTERS_WEBHOOK_KLAVIYO_H_
