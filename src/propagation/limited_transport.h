// LimitedTransport: the HttpTransport one system's adapter uses. Every
// request first takes a token from the system's TokenBucket, so the rate
// limit counts real HTTP requests (an adapter's lookups included), then
// goes out through the transport shared by all adapters.
//
// Thread-safety: thread-safe.
#ifndef CONSENTD_PROPAGATION_LIMITED_TRANSPORT_H_
#define CONSENTD_PROPAGATION_LIMITED_TRANSPORT_H_

#include <memory>

#include "adapters/http_transport.h"
#include "src/propagation/token_bucket.h"

namespace consentd::propagation {

class LimitedTransport final : public adapters::HttpTransport {
 public:
  LimitedTransport(std::shared_ptr<adapters::HttpTransport> inner, std::shared_ptr<TokenBucket> bucket)
      : inner_(std::move(inner)), bucket_(std::move(bucket)) {}
  // Waits for a token, then sends. When shutting down (the wait was
  // cancelled) answers a "transport_error" without sending.
  adapters::HttpResponse Send(const adapters::HttpRequest& request) override;

 private:
  std::shared_ptr<adapters::HttpTransport> inner_;
  std::shared_ptr<TokenBucket> bucket_;
};

}  // namespace consentd::propagation

#endif  // CONSENTD_PROPAGATION_LIMITED_TRANSPORT_H_
