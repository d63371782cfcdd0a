// HttpTransport: the network edge of the adapters. One HTTP request in, one
// response (or a classified transport error) out; no retries. Adapters take
// a transport through their constructor so that tests can use
// FakeHttpTransport (fake_http_transport.h) and integration tests the real
// HttplibTransport against the emulators on 127.0.0.1.
//
// Thread-safety: implementations are thread-safe.
#ifndef CONSENTD_ADAPTERS_HTTP_TRANSPORT_H_
#define CONSENTD_ADAPTERS_HTTP_TRANSPORT_H_

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace consentd::adapters {

struct HttpRequest {
  std::string method;  // "GET", "POST", "PUT", "PATCH", "DELETE"
  std::string url;     // absolute: "https://host[:port]/path?query"
  std::vector<std::pair<std::string, std::string>> headers;
  std::string content_type;  // for a body; empty for none
  std::string body;
  int32_t timeout_ms = 10000;  // connect, read and write, each
};

enum class TransportError {
  kNone,               // a response arrived (any status)
  kConnectionRefused,  // "connection_refused"
  kTimeout,            // "timeout": connect or read took longer than timeout_ms
  kConnectionDropped,  // "connection_dropped": reset or closed before a complete response
  kTls,                // "tls_error"
  kBadUrl,             // "bad_url": the request cannot be sent (a configuration error)
  kOther,              // "transport_error"
};

std::string_view TransportErrorCode(TransportError e);

struct HttpResponse {
  TransportError error = TransportError::kNone;
  int status = 0;  // 0 when error != kNone
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;

  // The first header named `name` (ASCII case-insensitive), or "".
  std::string Header(std::string_view name) const;
};

class HttpTransport {
 public:
  virtual ~HttpTransport() = default;
  // Sends `request` once. Never throws.
  virtual HttpResponse Send(const HttpRequest& request) = 0;
};

// HttpTransport over cpp-httplib: keeps idle keep-alive connections per
// origin (scheme://host:port) and reuses them; TLS through OpenSSL with
// certificate verification (set `ca_file` for a private CA in tests).
class HttplibTransport final : public HttpTransport {
 public:
  struct Options {
    std::string ca_file;           // empty: the system's trust store
    size_t max_idle_per_origin = 8;
  };
  HttplibTransport();
  explicit HttplibTransport(Options options);
  ~HttplibTransport() override;
  HttpResponse Send(const HttpRequest& request) override;

 private:
  struct Pool;
  Options options_;
  std::mutex mu_;
  std::map<std::string, std::unique_ptr<Pool>> pools_;  // guarded by mu_
};

}  // namespace consentd::adapters

#endif  // CONSENTD_ADAPTERS_HTTP_TRANSPORT_H_
