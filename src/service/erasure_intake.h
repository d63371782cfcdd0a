// ErasureIntake: the seam through which verified sources file erasure
// requests (a Shopify `customers/redact` webhook, a HubSpot privacy
// deletion event...). The erasure service (src/erasure) implements it; the
// webhook ingest (src/ingest) calls it. Duplicate requests for a subject
// with an open request link to that request instead of starting a second
// run.
//
// Thread-safety: implementations must be thread-safe.
#ifndef CONSENTD_SERVICE_ERASURE_INTAKE_H_
#define CONSENTD_SERVICE_ERASURE_INTAKE_H_

#include <cstdint>
#include <string>
#include <vector>

#include "src/base/result.h"
#include "src/domain/identifier_kind.h"

namespace consentd::service {

struct ErasureIntakeRequest {
  std::vector<domain::Identifier> identifiers;  // at least one; personal data, never logged
  std::string jurisdiction;    // a policy jurisdiction id; empty: the policy's default
  std::string channel;         // how it was received: "api", "webhook:<system id>", "email", "phone", ...
  std::string requester;       // who filed it: a token name or "<system id>"; no personal data
  int64_t received_at_ms = 0;  // when consentd (or the source) received it
  bool verified = false;       // true for a verified source (a signed webhook of a configured system)
  std::string source_reference;  // the source's own id for the request, e.g. Shopify's redact delivery id
};

struct ErasureIntakeResult {
  std::string request_id;  // the request (new, or the open one it was linked to)
  bool linked_to_open = false;
  uint64_t seq = 0;        // the ledger entry that records the filing (or the link)
};

class ErasureIntake {
 public:
  virtual ~ErasureIntake() = default;
  // Files (durably, with its ledger entry) or links the request. OK once
  // durable. kInvalidArgument for unusable identifiers (message names the
  // field, never the value).
  virtual Result<ErasureIntakeResult> File(const ErasureIntakeRequest& request) = 0;
};

}  // namespace consentd::service

#endif  // CONSENTD_SERVICE_ERASURE_INTAKE_H_
