// WebhookIngest: the webhook endpoints' logic, independent of HTTP
// (src/api/webhook_routes.cc is the thin HTTP edge). For one delivery to
// /v1/webhooks/{kind}/{instance}:
//   1. find the instance (404 unknown; nothing read);
//   2. verify with the instance's scheme over the RAW body (401 + nothing
//      recorded on failure; pings and Mailchimp's GET answer 200);
//   3. map the payload to events (400 when malformed);
//   4. per event, skip it when its dedupe key was seen (a replay: 200);
//      consent events: identity resolution, the tombstone check, the
//      conflict rules and the ledger through ConsentService::Record, with
//      source {instance id, method} and the system's own event time as
//      occurred_at (older than the state: recorded as stale, not applied),
//      then fan-out to the OTHER systems (the FanOut seam never sends back
//      to source.system); erasure requests through service::ErasureIntake
//      (503 when absent, before anything of the delivery is recorded);
//      access requests and shop redactions to AccessRequests; links through
//      SubjectRegistry::Resolve without creating subjects.
// Everything is durable before the 2xx (group-committed); delivery to the
// other systems is asynchronous (the outbox).
//
// Thread-safety: thread-safe. Events with the same dedupe key are processed
// one at a time.
#ifndef CONSENTD_INGEST_WEBHOOK_INGEST_H_
#define CONSENTD_INGEST_WEBHOOK_INGEST_H_

#include <array>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "adapters/webhook_event.h"
#include "src/base/clock.h"
#include "src/base/result.h"
#include "src/http/problem.h"
#include "src/identity/subject_registry.h"
#include "src/ingest/access_requests.h"
#include "src/ingest/delivery_log.h"
#include "src/ingest/echo_filter.h"
#include "src/ingest/webhook_instance.h"
#include "src/service/consent_service.h"
#include "src/service/erasure_intake.h"
#include "src/vault/ledger_writer.h"
#include "src/vault/sqlite_database.h"

namespace consentd::service {
class Runtime;
}

namespace consentd::ingest {

// What to answer. `problem` set: an error (status = problem->status).
struct IngestReply {
  int status = 200;
  std::optional<http::Problem> problem;
  std::string json;  // the 200 body
};

// What one event did, for the 200 body (codes and pseudonym-free).
struct EventResult {
  std::string kind;     // adapters::IngestKindName
  std::string outcome;  // "apply", "stale", "no_change", "not_authorized", "duplicate", "replayed",
                        // "ignored:<note>", "blocked", "filed", "linked_to_open", "recorded",
                        // "linked", "unknown_subject", "ambiguous", "echo", "rejected"
  std::string purpose;
  uint64_t seq = 0;
};

class WebhookIngest {
 public:
  struct Deps {
    service::ConsentService* consents = nullptr;
    identity::SubjectRegistry* subjects = nullptr;
    vault::LedgerWriter* writer = nullptr;
    vault::Database* database = nullptr;  // the read connection
    const Clock* clock = nullptr;
    service::ErasureIntake* erasure = nullptr;  // null until src/erasure provides it: erasure events answer 503
    EchoFilter* echo = nullptr;                 // null until src/propagation provides it
  };

  // Creates the tables if missing (one durable transaction). All pointers
  // in `deps` but erasure and echo are required and must outlive this.
  static Result<std::unique_ptr<WebhookIngest>> Open(Deps deps, std::map<std::string, WebhookInstance> instances);
  // The same with the runtime's components and the instances of its policy
  // and key directory; `warnings` lists unreadable credentials.
  static Result<std::unique_ptr<WebhookIngest>> Open(service::Runtime& rt, const IngestOptions& options,
                                                     service::ErasureIntake* erasure, EchoFilter* echo,
                                                     std::vector<std::string>* warnings);

  // Handles one delivery. `kind` and `instance` come from the path.
  IngestReply Handle(const std::string& kind, const std::string& instance, const adapters::WebhookRequest& request);

  // True when `instance` is configured with kind `kind`.
  bool Has(const std::string& kind, const std::string& instance) const;

  AccessRequests& access_requests() { return access_requests_; }
  DeliveryLog& deliveries() { return deliveries_; }

 private:
  WebhookIngest(Deps deps, std::map<std::string, WebhookInstance> instances);

  adapters::Verdict Verify(const WebhookInstance& w, const adapters::WebhookRequest& request) const;
  Result<adapters::WebhookBatch> Map(const WebhookInstance& w, const adapters::WebhookRequest& request) const;
  // Processes one event; a non-OK status is an internal or transient
  // failure that makes the whole delivery fail (the sender retries; events
  // already recorded are recognised as replays).
  Result<std::vector<EventResult>> Process(const WebhookInstance& w, const std::string& topic,
                                           const adapters::IngestEvent& e);
  Result<std::vector<EventResult>> ProcessConsent(const WebhookInstance& w, const std::string& topic, const adapters::IngestEvent& e,
                                     std::vector<domain::Identifier> ids);
  // Identifiers that normalize (a bad phone in a store record must not sink
  // the event); the others are dropped.
  std::vector<domain::Identifier> Usable(const std::vector<domain::Identifier>& ids) const;
  std::mutex& LockFor(const std::string& system, const std::string& key);

  Deps deps_;
  std::map<std::string, WebhookInstance> instances_;
  DeliveryLog deliveries_;
  AccessRequests access_requests_;
  std::array<std::mutex, 64> key_locks_;
};

}  // namespace consentd::ingest

#endif  // CONSENTD_INGEST_WEBHOOK_INGEST_H_
