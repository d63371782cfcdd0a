// Mailchimp webhooks, inbound (../shared/reference/downstream-apis.md §6.3,
// docs/webhooks.md "Mailchimp"). Mailchimp signs nothing: the webhook URL
// carries a secret (a path segment or the `secret` query parameter), which
// is compared in constant time. Mailchimp validates a new webhook URL with a
// GET, answered 200 when the secret matches. Deliveries are form-encoded.
//
// Thread-safety: pure functions.
#ifndef CONSENTD_ADAPTERS_WEBHOOK_MAILCHIMP_H_
#define CONSENTD_ADAPTERS_WEBHOOK_MAILCHIMP_H_

#include <string>
#include <string_view>

#include "adapters/webhook_event.h"
#include "src/base/result.h"

namespace consentd::adapters {

// Compares request.path_secret with `secret` (SHA-256 of both, compared in
// constant time, so that not even the length leaks). A GET with the right
// secret is the URL validation: Verdict kPing.
Verdict VerifyMailchimp(const WebhookRequest& request, std::string_view secret);

// Maps a form-encoded delivery (dedupe key: the body's digest; Mailchimp
// sends no id, and a retry repeats the bytes). Time: fired_at (UTC).
//   subscribe                        email granted
//   unsubscribe                      email withdrawn (data[reason]=abuse: spam_complaint)
//   cleaned, data[reason]=abuse      email withdrawn (spam_complaint)
//   cleaned (hard bounce)            ignored (a bounce is not a decision)
//   upemail                          link of data[old_email] and data[new_email]
//   profile, campaign, others        ignored
// Deliveries for another audience than `list_id` (when given) are ignored.
// kInvalidArgument for a body that is not a form or has no type.
Result<WebhookBatch> MapMailchimp(const WebhookRequest& request, std::string_view list_id);

}  // namespace consentd::adapters

#endif  // CONSENTD_ADAPTERS_WEBHOOK_MAILCHIMP_H_
