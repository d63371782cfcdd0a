// FakeHttpTransport: an HttpTransport for unit tests. Answers each request
// with a handler the test installs (or a queue of canned responses), and
// records every request it saw.
//
// Thread-safety: thread-safe.
#ifndef CONSENTD_ADAPTERS_FAKE_HTTP_TRANSPORT_H_
#define CONSENTD_ADAPTERS_FAKE_HTTP_TRANSPORT_H_

#include <deque>
#include <functional>
#include <mutex>
#include <vector>

#include "adapters/http_transport.h"

namespace consentd::adapters {

class FakeHttpTransport final : public HttpTransport {
 public:
  using Handler = std::function<HttpResponse(const HttpRequest&)>;

  // Every request is answered by `handler` (after the queued responses run out).
  void SetHandler(Handler handler) {
    std::lock_guard<std::mutex> lock(mu_);
    handler_ = std::move(handler);
  }
  // The next requests are answered by these, in order.
  void Enqueue(HttpResponse response) {
    std::lock_guard<std::mutex> lock(mu_);
    queued_.push_back(std::move(response));
  }
  static HttpResponse Respond(int status, std::string body,
                              std::vector<std::pair<std::string, std::string>> headers = {}) {
    HttpResponse r;
    r.status = status;
    r.body = std::move(body);
    r.headers = std::move(headers);
    return r;
  }
  static HttpResponse Fail(TransportError error) {
    HttpResponse r;
    r.error = error;
    return r;
  }

  HttpResponse Send(const HttpRequest& request) override {
    Handler handler;
    {
      std::lock_guard<std::mutex> lock(mu_);
      requests_.push_back(request);
      if (!queued_.empty()) {
        HttpResponse r = std::move(queued_.front());
        queued_.pop_front();
        return r;
      }
      handler = handler_;
    }
    if (handler) return handler(request);
    return Respond(599, "no fake response configured");
  }

  std::vector<HttpRequest> requests() const {
    std::lock_guard<std::mutex> lock(mu_);
    return requests_;
  }

 private:
  mutable std::mutex mu_;
  Handler handler_;
  std::deque<HttpResponse> queued_;
  std::vector<HttpRequest> requests_;
};

}  // namespace consentd::adapters

#endif  // CONSENTD_ADAPTERS_FAKE_HTTP_TRANSPORT_H_
