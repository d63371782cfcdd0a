// Adapter: what consentd needs from one downstream system (a Shopify shop, a
// HubSpot portal, a Mailchimp audience...): set a purpose's consent state for
// a customer, erase a customer, and find the system's own id for a customer.
// One implementation per system kind (shopify.h, woocommerce.h, hubspot.h,
// salesforce.h, klaviyo.h, mailchimp.h, signed_webhook.h); the dispatcher
// (src/propagation) drives them and owns retries, rate limits and order.
//
// An adapter performs ONE attempt per call and classifies what happened
// (Outcome); it never sleeps, retries or queues by itself, except for the
// lookup calls an operation needs. It never throws. Nothing it returns may
// hold personal data: codes and references only (Outcome::code is logged and
// stored in the outbox and the ledger).
//
// Thread-safety: implementations are thread-safe; the dispatcher may call
// one adapter from several threads up to the system's concurrency limit.
#ifndef CONSENTD_ADAPTERS_ADAPTER_H_
#define CONSENTD_ADAPTERS_ADAPTER_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace consentd::adapters {

enum class Operation {
  kSetConsent,  // set one purpose's decision (granted or withdrawn)
  kErase,       // erase the customer (or request the system's own erasure)
};

// The customer as consentd knows it, read from the vault at delivery time.
// Personal data: never log, print or return any of it.
struct Customer {
  std::string email;      // normalized (lower-case) email; may be empty
  std::string phone;      // E.164; may be empty
  std::string system_id;  // this system's own id for the customer when known (e.g. "1073339460"); may be empty
};

struct Request {
  Operation op = Operation::kSetConsent;
  std::string purpose;          // kSetConsent: the policy purpose key, e.g. "email_marketing"
  std::string channel;          // kSetConsent: the purpose's channel: "email", "sms", "ads", "analytics", "sale_sharing", ...
  bool granted = false;         // kSetConsent: the decision to set
  int64_t occurred_at_ms = 0;   // when the decision was made at its source (Unix ms)
  std::string idempotency_key;  // the same on every attempt of this delivery; [A-Za-z0-9_-]{1,64}
  Customer customer;
};

enum class OutcomeClass {
  kDone,            // applied (2xx)
  kAlreadyDone,     // nothing to do: already erased (404 on a delete), already scheduled (409), ...
  kAccepted,        // an asynchronous job was accepted (Klaviyo jobs, Shopify erasure request): call Confirm later
  kRetry,           // try again later: 408, 425, 429, 5xx, timeouts, refused or reset connections,
                    // Salesforce 403 REQUEST_LIMIT_EXCEEDED, Shopify THROTTLED
  kReauthenticate,  // 401 (or an expired-token error) with a refreshable credential: Reauthenticate(), then retry once
  kPermanent,       // other 4xx, malformed responses that cannot succeed later, unsupported purpose or channel
};

std::string_view OutcomeClassName(OutcomeClass c);  // "done", "already_done", "accepted", "retry", "reauthenticate", "permanent"

struct Outcome {
  OutcomeClass cls = OutcomeClass::kPermanent;
  int http_status = 0;  // the last response's status; 0 when no response (transport error)
  // Short machine code of what happened, never personal data: "ok", "http_404", "timeout",
  // "connection_refused", "THROTTLED", "REQUEST_LIMIT_EXCEEDED", "member_in_compliance_state",
  // "not_found", "malformed_response", "no_email", ...
  std::string code;
  std::string reference;                  // the system's own reference (job id, erasure request id), when any
  std::string system_id;                  // the customer's id in the system, when an operation learned it
  std::optional<int64_t> retry_after_ms;  // from Retry-After or the system's own throttle hint
};

class Adapter {
 public:
  virtual ~Adapter() = default;

  // Performs `request` once, including the lookups it needs (e.g. Shopify
  // finds the customer's GID by email first). A customer the system does not
  // hold: kAlreadyDone for kErase; for kSetConsent as documented per adapter
  // (typically kDone with code "not_found": nothing to update).
  virtual Outcome Deliver(const Request& request) = 0;

  // For an earlier kAccepted outcome with `reference`: kDone when the job
  // finished, kAccepted while it runs, otherwise as Deliver. Adapters
  // without asynchronous operations answer kDone.
  virtual Outcome Confirm(const Request& request, const std::string& reference) = 0;

  // Obtains a fresh access token with the refresh credential (Salesforce
  // OAuth). True when a new token is in place; false when the credential is
  // not refreshable or the refresh failed (the dispatcher then treats the
  // delivery as kPermanent with code "auth_failed").
  virtual bool Reauthenticate() = 0;

  // The system's own id for the customer (by email, or phone), without
  // changing anything. nullopt with `outcome` set to the failure when the
  // lookup failed; an empty string when the system holds no such customer.
  virtual std::optional<std::string> Lookup(const Customer& customer, Outcome* outcome) = 0;
};

}  // namespace consentd::adapters

#endif  // CONSENTD_ADAPTERS_ADAPTER_H_
