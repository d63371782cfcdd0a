// Webhook ingest, inbound side of the adapters: the request a verifier sees
// (WebhookRequest), what a verifier decides (Verdict), and the normalized
// events a system's payload maps to (IngestEvent, WebhookBatch). One file per
// system (webhook_<kind>.h) verifies that system's signature over the RAW
// body and maps its payloads; src/ingest turns the events into consent
// records, erasure and access requests (docs/webhooks.md).
//
// Events name channels ("email", "sms") or explicit purposes; which policy
// purposes a channel means is decided in src/ingest from the policy, because
// adapters/ does not see policies/.
//
// Thread-safety: value types.
#ifndef CONSENTD_ADAPTERS_WEBHOOK_EVENT_H_
#define CONSENTD_ADAPTERS_WEBHOOK_EVENT_H_

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "src/domain/consent.h"
#include "src/domain/identifier_kind.h"

namespace consentd::adapters {

// Case-insensitive header names (HTTP field names are case-insensitive).
struct HeaderNameLess {
  bool operator()(const std::string& a, const std::string& b) const;
};
using WebhookHeaders = std::multimap<std::string, std::string, HeaderNameLess>;

// The value of the first `name` header, or "" when absent.
std::string HeaderValue(const WebhookHeaders& headers, std::string_view name);
bool HasHeader(const WebhookHeaders& headers, std::string_view name);

// One received webhook request, as the verifier needs it. `body` is the raw
// bytes as received: verification runs before any parsing.
struct WebhookRequest {
  std::string method = "POST";  // "POST" or "GET"
  // The URL as the sender called it, scheme and host included, with the
  // query string (HubSpot v3 signs it). Candidates: verifiers that need it
  // try each (e.g. the scheme consentd saw and "https" behind a proxy).
  std::vector<std::string> urls;
  std::string path_secret;  // Mailchimp: the secret given in the path or the query
  WebhookHeaders headers;
  std::string_view body;
};

// What verification decided. Only `kOk` and `kPing` are accepted; every
// other value answers 401 with `code` (no secret, no value of the request).
struct Verdict {
  enum class Result { kOk, kPing, kRejected };
  Result result = Result::kRejected;
  std::string code;  // "ok", "ping", "missing_signature", "bad_signature", "malformed_signature",
                     // "timestamp_outside_window", "missing_timestamp", "no_secret_configured"
  bool ok() const { return result == Result::kOk; }

  static Verdict Ok() { return {Result::kOk, "ok"}; }
  static Verdict Ping() { return {Result::kPing, "ping"}; }
  static Verdict Rejected(std::string code) { return {Result::kRejected, std::move(code)}; }
};

enum class IngestKind {
  kConsent,         // a decision for a channel or purpose
  kErasureRequest,  // the subject asked the system to erase them (verified source)
  kAccessRequest,   // the subject asked the system for their data
  kShopRedact,      // a whole shop asked for its data to be erased (Shopify shop/redact)
  kLink,            // identifiers seen together (profile or email change): link them to a known subject
  kIgnored,         // understood and deliberately not acted on (`note` says why)
};

std::string_view IngestKindName(IngestKind k);  // "consent", "erasure_request", ...

// One normalized event. Identifiers are personal data: never log them.
struct IngestEvent {
  IngestKind kind = IngestKind::kIgnored;
  // The system's own id for this event or delivery, unique per system:
  // replays carry the same key. [!-~]{1,120}.
  std::string dedupe_key;
  int64_t occurred_at_ms = 0;                   // the system's own event time (Unix ms); 0: unknown
  std::vector<domain::Identifier> identifiers;  // kConsent..kLink: at least one
  // kConsent: exactly one of channel ("email", "sms") and purpose (an
  // explicit policy purpose key, e.g. from a HubSpot subscription id).
  std::string channel;
  std::string purpose;
  domain::Decision decision = domain::Decision::kWithdrawn;
  domain::ConsentMethod method = domain::ConsentMethod::kWebhook;
  std::string reference;  // the system's reference for a request (e.g. data_request id); no personal data
  std::string topic;      // the system's topic or event type (a code)
  std::string note;       // kIgnored: why, e.g. "unmapped_topic", "bounce_is_not_a_decision"
};

// What one webhook delivery maps to.
struct WebhookBatch {
  std::string topic;
  std::vector<IngestEvent> events;
};

}  // namespace consentd::adapters

#endif  // CONSENTD_ADAPTERS_WEBHOOK_EVENT_H_
