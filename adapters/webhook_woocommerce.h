// WooCommerce webhooks, inbound (../shared/reference/downstream-apis.md
// §2.3, docs/webhooks.md "WooCommerce"): verification of
// X-WC-Webhook-Signature, the creation ping, and the mapping of customer
// topics to ingest events. WooCommerce has no marketing-consent field of its
// own: consent lives in customer meta_data, one key per purpose (the same
// keys the outbound adapter writes).
//
// Thread-safety: pure functions.
#ifndef CONSENTD_ADAPTERS_WEBHOOK_WOOCOMMERCE_H_
#define CONSENTD_ADAPTERS_WEBHOOK_WOOCOMMERCE_H_

#include <map>
#include <string>
#include <string_view>

#include "adapters/webhook_event.h"
#include "src/base/result.h"

namespace consentd::adapters {

// base64(HMAC-SHA256(secret, raw body)) == X-WC-Webhook-Signature. The
// secret is the webhook's secret with HTML entities decoded (WooCommerce
// signs with wp_specialchars_decode(secret)). A request without a signature
// whose form body is exactly "webhook_id=<digits>" is the creation ping:
// Verdict kPing (answer 200, record nothing).
Verdict VerifyWooCommerce(const WebhookRequest& request, std::string_view secret);

struct WooCommerceMapping {
  // Qualifier of woocommerce_customer ids (the site); empty: taken from
  // X-WC-Webhook-Source.
  std::string site;
  // purpose -> customer meta key holding its decision ("granted"/"withdrawn";
  // also yes/no, true/false, 1/0, subscribed/unsubscribed). An optional
  // "<key>_at" meta (RFC 3339) is the decision's time.
  std::map<std::string, std::string> meta_keys;
};

// Maps a verified delivery (dedupe key: X-WC-Webhook-Delivery-ID).
//   customer.created, customer.updated  consent per meta key present, else a
//                                       link of id, email and billing phone
//   customer.deleted                    ignored (a store deletion is not the
//                                       subject's erasure request)
//   others                              ignored
Result<WebhookBatch> MapWooCommerce(const WebhookRequest& request, const WooCommerceMapping& mapping);

}  // namespace consentd::adapters

#endif  // CONSENTD_ADAPTERS_WEBHOOK_WOOCOMMERCE_H_
