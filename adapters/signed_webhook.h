// Signed webhook: a JSON POST to any URL, signed with HMAC-SHA256 over timestamp and body,
// for systems without an adapter. The format is in docs/adapters.md.
//
// Thread-safety: thread-safe.
#ifndef CONSENTD_ADAPTERS_SIGNED_WEBHOOK_H_
#define CONSENTD_ADAPTERS_SIGNED_WEBHOOK_H_

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "adapters/adapter.h"
#include "adapters/adapter_config.h"
#include "adapters/http_transport.h"
#include "src/base/clock.h"

namespace consentd::adapters {

// REQUIRES: config.settings holds SignedWebhookSettings; the required credentials are
// present (MakeAdapter checks both). `transport` and `clock` must outlive
// the adapter.
std::unique_ptr<Adapter> MakeSignedWebhookAdapter(AdapterConfig config, std::shared_ptr<HttpTransport> transport,
                                                  const Clock& clock);

// The signature header's value: "t=<unix_seconds>,v1=<hex>", where <hex> is
// the lower-case hex HMAC-SHA256, keyed with the receiver's signing secret,
// over "<unix_seconds>.<raw body>" (the shape of Stripe's Stripe-Signature).
std::string WebhookSignatureHeader(std::string_view secret, int64_t unix_seconds, std::string_view body);

}  // namespace consentd::adapters

#endif  // CONSENTD_ADAPTERS_SIGNED_WEBHOOK_H_
