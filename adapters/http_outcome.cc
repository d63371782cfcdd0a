#include "adapters/http_outcome.h"

#include <string>

#include "adapters/retry_after.h"

namespace consentd::adapters {

std::string_view OutcomeClassName(OutcomeClass c) {
  switch (c) {
    case OutcomeClass::kDone: return "done";
    case OutcomeClass::kAlreadyDone: return "already_done";
    case OutcomeClass::kAccepted: return "accepted";
    case OutcomeClass::kRetry: return "retry";
    case OutcomeClass::kReauthenticate: return "reauthenticate";
    case OutcomeClass::kPermanent: return "permanent";
  }
  return "permanent";
}

Outcome ClassifyHttp(const HttpResponse& response, int64_t now_ms) {
  Outcome out;
  if (response.error != TransportError::kNone) {
    out.code = std::string(TransportErrorCode(response.error));
    const bool config_error = response.error == TransportError::kBadUrl || response.error == TransportError::kTls;
    out.cls = config_error ? OutcomeClass::kPermanent : OutcomeClass::kRetry;
    return out;
  }
  const int s = response.status;
  out.http_status = s;
  if (s >= 200 && s < 300) {
    out.cls = OutcomeClass::kDone;
    out.code = "ok";
    return out;
  }
  out.code = "http_" + std::to_string(s);
  if (s == 401) {
    out.cls = OutcomeClass::kReauthenticate;
  } else if (s == 408 || s == 425 || s == 429 || s >= 500) {
    out.cls = OutcomeClass::kRetry;
    out.retry_after_ms = ParseRetryAfter(response.Header("Retry-After"), now_ms);
  } else {
    out.cls = OutcomeClass::kPermanent;
  }
  return out;
}

}  // namespace consentd::adapters
