// HttpServer: consentd's HTTP edge on cpp-httplib, with the conventions every
// route shares (docs/api.md):
//  - bearer-token authentication and a scope check before any handler runs
//    (401 without a valid token, 403 with the wrong scope);
//  - RFC 9457 problem+json for every error, including httplib's own (404,
//    413, 400) and exceptions, whose text never reaches a response;
//  - a request id per request (X-Request-Id), request metrics by route and
//    status with latency histograms, and a JSON log line per error;
//  - TCP_NODELAY and long keep-alive (../shared/reference/cpp-httplib.md).
//
// Two servers can run the routes, with the same handlers and conventions:
// the event-driven AsioListener (the default: a few I/O threads serve every
// connection, routes marked run_inline answer on them, the others on
// `threads` workers), or cpp-httplib's thread-per-connection server. Both
// serve HTTPS when given a certificate and key (OpenSSL).
//
// Thread-safety: routes are registered before Start(); handlers run on the
// server's threads and must be thread-safe.
#ifndef CONSENTD_HTTP_SERVER_H_
#define CONSENTD_HTTP_SERVER_H_

#include <atomic>
#include <functional>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "src/auth/scope.h"
#include "src/base/result.h"
#include "src/http/problem.h"
#include "src/obs/logger.h"
#include "src/obs/metrics.h"

namespace httplib {
class Server;
struct Request;
struct Response;
}  // namespace httplib

namespace consentd::http {

class AsioListener;

enum class Engine { kAsio, kHttplib };

struct ServerOptions {
  std::string host = "127.0.0.1";
  int port = 8080;             // 0: any free port (see port())
  Engine engine = Engine::kAsio;
  size_t threads = 8;          // httplib: one per connection; asio: workers for routes that may block
  size_t io_threads = 0;       // asio: event loops; 0 = one per core
  size_t max_body_bytes = 1 << 20;  // default per-request limit; routes may raise it
  int read_timeout_seconds = 10;
  std::string tls_cert_file;   // both set: HTTPS
  std::string tls_key_file;
};

// Authenticates a bearer token. kNotFound (or any error) answers 401.
using Authenticator = std::function<Result<auth::Principal>(std::string_view token)>;

enum class Method { kGet, kPost, kPut, kDelete };

struct Route {
  Method method = Method::kGet;
  std::string pattern;                 // httplib pattern, e.g. R"(/v1/requests/([0-9a-f]+))"
  std::string name;                    // metrics label, e.g. "/v1/requests/{id}"
  std::vector<auth::Scope> scopes;     // any of these; empty = no authentication (healthz)
  size_t max_body_bytes = 0;           // 0: the server default
  // Runs on the event loop (asio engine): only for quick reads that never
  // wait on a lock held across an fsync or on another system.
  bool run_inline = false;
};

// A handler fills the response (ReplyJson, or Reply with a Problem).
// Exceptions are caught and answered with a generic 500 whose body holds
// nothing of the exception.
using Handler = std::function<void(const httplib::Request&, httplib::Response&, const auth::Principal&)>;

class HttpServer {
 public:
  HttpServer(ServerOptions options, Authenticator authenticator, obs::MetricsRegistry& metrics,
             const obs::Logger& logger);
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // REQUIRES: not started.
  void Handle(Route route, Handler handler);

  // Binds and starts serving on a background thread. kUnavailable if the
  // address cannot be bound; kInvalidArgument for unusable TLS files.
  Status Start();
  // Stops accepting, lets in-flight requests finish, joins the thread.
  void Stop();
  int port() const { return port_; }

 private:
  struct AsioRoute;
  void Install();

  ServerOptions options_;
  Authenticator authenticator_;
  obs::MetricsRegistry& metrics_;
  const obs::Logger& logger_;
  std::unique_ptr<httplib::Server> server_;
  std::thread thread_;
  std::atomic<bool> serving_done_{false};  // listen_after_bind returned
  std::mutex busy_mu_;
  std::multiset<int> busy_ports_;  // peer ports of requests in progress; guarded by busy_mu_
  int port_ = 0;
  size_t payload_max_bytes_ = 0;  // httplib's limit: the largest route limit
  std::atomic<uint64_t> next_request_id_{1};
  std::string id_prefix_;
  std::set<std::string> literal_routes_;  // patterns without parameters; fixed before Start()
  // httplib's error handler, also the asio listener's.
  std::function<void(const httplib::Request&, httplib::Response&)> on_error_;
  std::vector<std::unique_ptr<AsioRoute>> asio_routes_;  // asio engine; fixed before Start()
  std::unique_ptr<AsioListener> listener_;
};

// Writes `p` as the response (status, problem+json body).
void Reply(httplib::Response& res, const Problem& p);
// Writes a JSON body with status 200 (or `status`).
void ReplyJson(httplib::Response& res, const std::string& json, int status = 200);

}  // namespace consentd::http

#endif  // CONSENTD_HTTP_SERVER_H_
