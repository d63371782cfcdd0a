#include "src/propagation/limited_transport.h"

namespace consentd::propagation {

adapters::HttpResponse LimitedTransport::Send(const adapters::HttpRequest& request) {
  if (bucket_ && !bucket_->Acquire()) {
    adapters::HttpResponse r;
    r.error = adapters::TransportError::kOther;
    return r;
  }
  return inner_->Send(request);
}

}  // namespace consentd::propagation
