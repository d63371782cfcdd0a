// OutboxEchoFilter: webhook ingest's EchoFilter (src/ingest/echo_filter.h)
// answered from the outbox (Outbox::IsEcho): a system that reports back the
// decision consentd last delivered to it, while a newer change for the same
// subject and purpose is still queued for it, is echoing, not deciding.
//
// Thread-safety: thread-safe (the outbox is).
#ifndef CONSENTD_PROPAGATION_OUTBOX_ECHO_FILTER_H_
#define CONSENTD_PROPAGATION_OUTBOX_ECHO_FILTER_H_

#include <string>

#include "src/ingest/echo_filter.h"
#include "src/propagation/outbox.h"

namespace consentd::propagation {

class OutboxEchoFilter final : public ingest::EchoFilter {
 public:
  // `outbox` must outlive the filter.
  explicit OutboxEchoFilter(Outbox& outbox) : outbox_(outbox) {}
  Result<bool> IsEcho(const std::string& system, const domain::Sid& sid, const std::string& purpose,
                      domain::Decision decision) override {
    return outbox_.IsEcho(system, sid, purpose, decision);
  }

 private:
  Outbox& outbox_;
};

}  // namespace consentd::propagation

#endif  // CONSENTD_PROPAGATION_OUTBOX_ECHO_FILTER_H_
