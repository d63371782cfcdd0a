// EchoFilter: the seam through which propagation tells the webhook ingest
// what consentd itself delivered to a system, so that a system reporting
// back a change consentd made there (an echo) is not taken for news.
//
// Most echoes need no filter: a system that reports the decision consentd
// holds leaves the effective state unchanged, and the consent service fans
// out only changes (no_change, docs/webhooks.md "Echo suppression"). The
// filter covers the one harmful case: an echo of an OLDER delivery that
// arrives after the state moved on, stamped with the system's own (newer)
// time, which the conflict rules would otherwise apply.
//
// Thread-safety: implementations must be thread-safe.
#ifndef CONSENTD_INGEST_ECHO_FILTER_H_
#define CONSENTD_INGEST_ECHO_FILTER_H_

#include <cstdint>
#include <string>

#include "src/base/result.h"
#include "src/domain/consent.h"
#include "src/domain/sid.h"

namespace consentd::ingest {

class EchoFilter {
 public:
  virtual ~EchoFilter() = default;
  // True when the report repeats the last change consentd delivered to
  // `system` for (sid, purpose) (`decision` equals it) while a newer change
  // for them is still queued or in flight to that system: the newer
  // delivery will overwrite what the system reported. The ingest asks only
  // when `decision` differs from the subject's effective decision.
  virtual Result<bool> IsEcho(const std::string& system, const domain::Sid& sid, const std::string& purpose,
                              domain::Decision decision) = 0;
};

}  // namespace consentd::ingest

#endif  // CONSENTD_INGEST_ECHO_FILTER_H_
