// AsioListener: consentd's event-driven HTTP/1.1 listener (Boost.Asio for
// the sockets, Boost.Beast's parser for the requests). A few I/O threads, one
// event loop each, serve every connection; a route either runs on the event
// loop (quick reads that never wait on a lock held across an fsync, such as
// GET /v1/consents) or on a pool of worker threads (everything that may
// block: recording waits for its group commit). cpp-httplib's server holds one
// thread per keep-alive connection, which on a 2-core machine spends most of
// its time switching between them (docs/benchmarks.md, "GET /v1/consents").
//
// The listener speaks httplib::Request/httplib::Response to its owner, so
// HttpServer's handlers and conventions are the same whichever server runs
// them. It parses, routes through the owner's Router, writes the response
// (Content-Length, keep-alive unless the client or the owner asks to close),
// answers 100-continue, and enforces a header limit, the body limit, an idle
// keep-alive timeout and a read/write timeout. With a certificate and key it
// serves HTTPS (OpenSSL through Boost.Asio), the handshake within the read
// timeout.
//
// Thread-safety: Start and Stop from one thread. The Router and handlers run
// on the I/O threads and worker threads concurrently and must be thread-safe.
#ifndef CONSENTD_HTTP_ASIO_LISTENER_H_
#define CONSENTD_HTTP_ASIO_LISTENER_H_

#include <functional>
#include <memory>
#include <string>

#include "src/base/status.h"

namespace httplib {
struct Request;
struct Response;
}  // namespace httplib

namespace consentd::http {

struct AsioListenerOptions {
  std::string host = "127.0.0.1";
  int port = 0;                     // 0: any free port (see port())
  size_t io_threads = 0;            // 0: one per core
  size_t worker_threads = 8;        // for routes that may block
  size_t max_body_bytes = 1 << 20;  // larger bodies: 413
  size_t max_header_bytes = 16 << 10;  // request line + headers; larger: 431
  size_t max_connections = 10000;   // beyond: accepted and closed at once
  int read_timeout_seconds = 10;    // a request's rest once its first byte came; a response's write
  int keep_alive_seconds = 30;      // idle between requests
  std::string tls_cert_file;        // both set: every connection speaks TLS (1.2 or later)
  std::string tls_key_file;
  // Called with the number of open connections whenever it changes (for a
  // gauge); on the listener's threads, so it must be cheap and thread-safe.
  std::function<void(size_t)> on_connections;
};

// The owner's side of one request.
struct ListenerTarget {
  // Fills the response. Exceptions are caught and answered 500 (through
  // on_error), with nothing of their text.
  std::function<void(const httplib::Request&, httplib::Response&)> const* handler = nullptr;
  bool run_inline = false;  // on the event loop (must not block), else on a worker
};

// Finds the route of `req` (method, path), filling req.matches; nullptr
// handler when there is none (answered 404 through on_error).
using ListenerRouter = std::function<ListenerTarget(httplib::Request& req)>;
// Fills an error response whose res.status is already set (400, 404, 413,
// 431, 500, 503); called for errors the listener finds itself.
using ListenerErrorHandler = std::function<void(const httplib::Request& req, httplib::Response& res)>;

class AsioListener {
 public:
  AsioListener(AsioListenerOptions options, ListenerRouter router, ListenerErrorHandler on_error);
  ~AsioListener();  // Stop()
  AsioListener(const AsioListener&) = delete;
  AsioListener& operator=(const AsioListener&) = delete;

  // Binds and starts the I/O threads and workers. kUnavailable when the
  // address cannot be bound or resolved; kInvalidArgument when the TLS
  // certificate or key cannot be loaded or do not belong together.
  Status Start();
  // Stops accepting, closes idle connections, lets requests in progress
  // finish and write their responses, then joins every thread. Idempotent.
  void Stop();
  int port() const;

  class Impl;  // the implementation's, not a caller's

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace consentd::http

#endif  // CONSENTD_HTTP_ASIO_LISTENER_H_
