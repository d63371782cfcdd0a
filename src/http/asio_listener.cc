#include "src/http/asio_listener.h"

// <utility> before Boost.Asio: 1.74's awaitable.hpp uses std::exchange
// without including it.
#include <utility>
#include <optional>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/string.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/beast/core/stream_traits.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <httplib.h>

#include <array>
#include <atomic>
#include <chrono>
#include <mutex>
#include <thread>
#include <unordered_map>
#include <vector>

namespace consentd::http {
namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using tcp = asio::ip::tcp;

namespace {

const char* Reason(int status) {
  switch (status) {
    case 200: return "OK";
    case 201: return "Created";
    case 202: return "Accepted";
    case 204: return "No Content";
    case 304: return "Not Modified";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 409: return "Conflict";
    case 410: return "Gone";
    case 412: return "Precondition Failed";
    case 413: return "Payload Too Large";
    case 415: return "Unsupported Media Type";
    case 422: return "Unprocessable Content";
    case 429: return "Too Many Requests";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 503: return "Service Unavailable";
    default: return status < 400 ? "OK" : "Error";
  }
}

std::string_view View(beast::string_view v) { return std::string_view(v.data(), v.size()); }

// One request and its response, alive until the response is written.
struct Exchange {
  httplib::Request req;
  httplib::Response res;
  bool keep_alive = true;
  bool head = false;
  std::string head_text;  // status line and headers, as written
};

const std::string kContinue = "HTTP/1.1 100 Continue\r\n\r\n";

}  // namespace

class ConnectionBase;

class AsioListener::Impl {
 public:
  Impl(AsioListenerOptions o, ListenerRouter r, ListenerErrorHandler e)
      : opts(std::move(o)), router(std::move(r)), on_error(std::move(e)) {}
  ~Impl() { Stop(); }

  Status Start();
  void Stop();
  void Accept();
  void Register(const std::shared_ptr<ConnectionBase>& c);
  void Unregister(ConnectionBase* c);

  AsioListenerOptions opts;
  ListenerRouter router;
  ListenerErrorHandler on_error;
  std::vector<std::unique_ptr<asio::io_context>> ios;  // before acceptor: destroyed after it
  std::vector<asio::executor_work_guard<asio::io_context::executor_type>> guards;
  std::optional<asio::ssl::context> tls;    // set: every connection speaks TLS
  std::unique_ptr<tcp::acceptor> acceptor;  // on ios[0]
  std::unique_ptr<asio::steady_timer> accept_retry;
  std::unique_ptr<asio::thread_pool> workers;
  std::vector<std::thread> threads;
  std::atomic<bool> stopping{false};
  std::atomic<size_t> connections{0};
  size_t next_io = 0;  // only on ios[0]'s thread (the accept loop)
  int port = 0;
  bool started = false;
  std::mutex conns_mu;
  std::unordered_map<ConnectionBase*, std::weak_ptr<ConnectionBase>> conns;  // guarded by conns_mu
};

// What Stop() needs of a connection, whatever its stream.
class ConnectionBase : public std::enable_shared_from_this<ConnectionBase> {
 public:
  ConnectionBase(asio::io_context& io, AsioListener::Impl* owner) : io_(io), owner_(owner) {}
  virtual ~ConnectionBase() { owner_->Unregister(this); }
  virtual void Start() = 0;
  virtual void CloseIfIdle() = 0;
  asio::io_context& io() const { return io_; }

 protected:
  asio::io_context& io_;
  AsioListener::Impl* owner_;
};

// One accepted connection over a Stream: beast::tcp_stream (plain HTTP) or
// beast::ssl_stream<beast::tcp_stream> (TLS). Everything but the worker's
// handler call runs on the connection's I/O thread, so its members need no
// lock.
template <class Stream>
class Connection final : public ConnectionBase {
 public:
  static constexpr bool kTls = !std::is_same_v<Stream, beast::tcp_stream>;

  Connection(tcp::socket socket, asio::io_context& io, AsioListener::Impl* owner)
    requires(!kTls)
      : ConnectionBase(io, owner), stream_(std::move(socket)) {}
  Connection(tcp::socket socket, asio::ssl::context& tls, asio::io_context& io, AsioListener::Impl* owner)
    requires(kTls)
      : ConnectionBase(io, owner), stream_(beast::tcp_stream(std::move(socket)), tls) {}

  void Start() override {
    beast::error_code ec;
    Lowest().socket().set_option(tcp::no_delay(true), ec);
    tcp::endpoint remote = Lowest().socket().remote_endpoint(ec);
    if (!ec) {
      remote_addr_ = remote.address().to_string();
      remote_port_ = remote.port();
    }
    tcp::endpoint local = Lowest().socket().local_endpoint(ec);
    if (!ec) {
      local_addr_ = local.address().to_string();
      local_port_ = local.port();
    }
    if constexpr (kTls) {
      idle_ = true;  // no request yet: Stop() closes a connection still shaking hands
      Lowest().expires_after(Seconds(owner_->opts.read_timeout_seconds));
      stream_.async_handshake(asio::ssl::stream_base::server, [self = Self()](beast::error_code e) {
        if (e) return self->Close();  // not TLS, or a failed handshake
        self->ReadHeader();
      });
    } else {
      ReadHeader();
    }
  }

  // Stop(): a connection waiting for its next request is closed; one with a
  // request in progress finishes it first (Write then sees `stopping`).
  void CloseIfIdle() override {
    if (idle_) Close();
  }

 private:
  std::shared_ptr<Connection> Self() { return std::static_pointer_cast<Connection>(shared_from_this()); }
  beast::tcp_stream& Lowest() { return beast::get_lowest_layer(stream_); }

  std::chrono::seconds Seconds(int s) { return std::chrono::seconds(s); }

  void ReadHeader() {
    if (owner_->stopping) return Close();
    parser_.emplace();
    parser_->header_limit(static_cast<uint32_t>(owner_->opts.max_header_bytes));
    parser_->body_limit(owner_->opts.max_body_bytes);
    idle_ = buffer_.size() == 0;
    Lowest().expires_after(Seconds(idle_ ? owner_->opts.keep_alive_seconds : owner_->opts.read_timeout_seconds));
    bhttp::async_read_header(stream_, buffer_, *parser_,
                             [self = Self()](beast::error_code ec, size_t) { self->OnHeader(ec); });
  }

  void OnHeader(beast::error_code ec) {
    idle_ = false;
    if (ec) return OnReadError(ec);
    const auto& msg = parser_->get();
    const auto length = parser_->content_length();
    if (length && *length > owner_->opts.max_body_bytes) return Fail(413);
    if (!parser_->is_done() && beast::iequals(msg[bhttp::field::expect], "100-continue")) {
      Lowest().expires_after(Seconds(owner_->opts.read_timeout_seconds));
      asio::async_write(stream_, asio::buffer(kContinue), [self = Self()](beast::error_code e, size_t) {
        if (e) return self->Close();
        self->ReadBody();
      });
      return;
    }
    ReadBody();
  }

  void ReadBody() {
    if (parser_->is_done()) return OnRequest();
    Lowest().expires_after(Seconds(owner_->opts.read_timeout_seconds));
    bhttp::async_read(stream_, buffer_, *parser_, [self = Self()](beast::error_code ec, size_t) {
      if (ec) return self->OnReadError(ec);
      self->OnRequest();
    });
  }

  void OnReadError(beast::error_code ec) {
    if (ec == bhttp::error::body_limit) return Fail(413);
    if (ec == bhttp::error::header_limit) return Fail(431);
    // The peer went away, timed out, or we closed the connection.
    if (ec == bhttp::error::end_of_stream || ec == bhttp::error::partial_message || ec == beast::error::timeout ||
        ec.category() != bhttp::make_error_code(bhttp::error::bad_method).category()) {
      return Close();
    }
    Fail(400);  // a malformed request
  }

  // An error found before any handler ran; the connection closes after it.
  void Fail(int status) {
    auto ex = std::make_shared<Exchange>();
    ex->keep_alive = false;
    ex->req.remote_addr = remote_addr_;
    ex->req.remote_port = remote_port_;
    // The path, when the request line was read (a body over the limit):
    // the error handler names it when it is one of the fixed routes.
    // (Beast refuses a Content-Length over the limit while parsing the
    // header, after it has stored the request line.)
    if (parser_ && !parser_->get().target().empty()) {
      const std::string_view target = View(parser_->get().target());
      ex->req.method = std::string(View(parser_->get().method_string()));
      ex->req.path = httplib::detail::decode_url(std::string(target.substr(0, target.find('?'))), false);
    }
    ex->res.status = status;
    owner_->on_error(ex->req, ex->res);
    Write(ex);
  }

  void OnRequest() {
    auto ex = std::make_shared<Exchange>();
    bhttp::request<bhttp::string_body> msg = parser_->release();
    parser_.reset();
    ex->keep_alive = msg.keep_alive();
    httplib::Request& req = ex->req;
    req.method = std::string(View(msg.method_string()));
    ex->head = req.method == "HEAD";
    req.target = std::string(View(msg.target()));
    const size_t q = req.target.find('?');
    req.path = httplib::detail::decode_url(req.target.substr(0, q), false);
    if (q != std::string::npos) httplib::detail::parse_query_text(req.target.substr(q + 1), req.params);
    req.version = msg.version() == 10 ? "HTTP/1.0" : "HTTP/1.1";
    for (const auto& f : msg) req.headers.emplace(std::string(View(f.name_string())), std::string(View(f.value())));
    req.body = std::move(msg.body());
    req.remote_addr = remote_addr_;
    req.remote_port = remote_port_;
    req.local_addr = local_addr_;
    req.local_port = local_port_;

    ListenerTarget target = owner_->router(req);
    if (!target.handler) {
      ex->res.status = 404;
      owner_->on_error(req, ex->res);
      return Write(ex);
    }
    if (target.run_inline) {
      Run(*target.handler, *ex);
      return Write(ex);
    }
    // The work guard keeps the I/O thread's loop running until the worker
    // has handed the response back, even while Stop() drains it.
    asio::post(*owner_->workers, [self = Self(), ex, handler = target.handler,
                                  work = asio::make_work_guard(io_)]() mutable {
      self->Run(*handler, *ex);
      asio::post(self->io_, [self, ex] { self->Write(ex); });
      work.reset();
    });
  }

  void Run(const std::function<void(const httplib::Request&, httplib::Response&)>& handler, Exchange& ex) {
    try {
      handler(ex.req, ex.res);
    } catch (...) {
      ex.res = httplib::Response();
      ex.res.status = 500;
    }
    if (ex.res.status == -1) ex.res.status = 200;
    if (ex.res.status >= 400 && ex.res.body.empty()) owner_->on_error(ex.req, ex.res);
  }

  void Write(const std::shared_ptr<Exchange>& ex) {
    const httplib::Response& res = ex->res;
    bool keep = ex->keep_alive && !owner_->stopping;
    std::string& h = ex->head_text;
    h.reserve(160 + 64 * res.headers.size());
    h += "HTTP/1.1 ";
    h += std::to_string(res.status);
    h += ' ';
    h += Reason(res.status);
    h += "\r\n";
    for (const auto& [name, value] : res.headers) {
      if (beast::iequals(name, "Content-Length") || beast::iequals(name, "Transfer-Encoding")) continue;
      if (beast::iequals(name, "Connection")) {
        if (beast::iequals(value, "close")) keep = false;
        continue;
      }
      h += name;
      h += ": ";
      h += value;
      h += "\r\n";
    }
    h += "Content-Length: ";
    h += std::to_string(res.body.size());
    h += keep ? "\r\n\r\n" : "\r\nConnection: close\r\n\r\n";
    std::array<asio::const_buffer, 2> buffers = {asio::buffer(h),
                                                 ex->head ? asio::const_buffer() : asio::buffer(res.body)};
    Lowest().expires_after(Seconds(owner_->opts.read_timeout_seconds));
    asio::async_write(stream_, buffers, [self = Self(), ex, keep](beast::error_code ec, size_t) {
      if (ec) return self->Close();
      if (!keep) return self->LingeringClose();
      self->ReadHeader();
    });
  }

  // After the last response: stop sending, then read and drop what the peer
  // still sends (an unread body would otherwise make the close a reset that
  // can destroy the response in the peer's receive buffer), briefly.
  void LingeringClose() {
    beast::error_code ec;
    Lowest().socket().shutdown(tcp::socket::shutdown_send, ec);
    if (ec) return Close();
    Lowest().expires_after(std::chrono::seconds(2));
    Drain();
  }

  void Drain() {
    Lowest().async_read_some(asio::buffer(drain_), [self = Self()](beast::error_code ec, size_t) {
      if (ec) return self->Close();
      self->Drain();
    });
  }

  void Close() {
    idle_ = false;
    beast::error_code ec;
    Lowest().socket().shutdown(tcp::socket::shutdown_both, ec);
    Lowest().close();
  }

  Stream stream_;
  beast::flat_buffer buffer_;
  std::optional<bhttp::request_parser<bhttp::string_body>> parser_;
  std::array<char, 4096> drain_;
  bool idle_ = false;
  std::string remote_addr_, local_addr_;
  int remote_port_ = -1, local_port_ = -1;
};

Status AsioListener::Impl::Start() {
  if (started) return Status::FailedPrecondition("listener already started");
  if (!opts.tls_cert_file.empty() || !opts.tls_key_file.empty()) {
    // TLS 1.2 and later; the key must belong to the certificate.
    tls.emplace(asio::ssl::context::tls_server);
    beast::error_code e;
    tls->set_options(asio::ssl::context::default_workarounds | asio::ssl::context::no_sslv2 |
                         asio::ssl::context::no_sslv3 | asio::ssl::context::no_tlsv1 | asio::ssl::context::no_tlsv1_1 |
                         asio::ssl::context::single_dh_use,
                     e);
    if (!e) tls->use_certificate_chain_file(opts.tls_cert_file, e);
    if (!e) tls->use_private_key_file(opts.tls_key_file, asio::ssl::context::pem, e);
    if (e || SSL_CTX_check_private_key(tls->native_handle()) != 1) {
      tls.reset();
      return Status::InvalidArgument("TLS certificate or key cannot be loaded");
    }
  }
  const size_t n = opts.io_threads ? opts.io_threads : std::max(1u, std::thread::hardware_concurrency());
  for (size_t i = 0; i < n; ++i) {
    ios.push_back(std::make_unique<asio::io_context>(1));
    guards.push_back(asio::make_work_guard(*ios.back()));
  }
  beast::error_code ec;
  tcp::resolver resolver(*ios[0]);
  auto endpoints = resolver.resolve(opts.host, std::to_string(opts.port), tcp::resolver::passive, ec);
  if (ec || endpoints.empty()) return Status::Unavailable("cannot resolve " + opts.host);
  const tcp::endpoint ep = endpoints.begin()->endpoint();
  acceptor = std::make_unique<tcp::acceptor>(*ios[0]);
  acceptor->open(ep.protocol(), ec);
  if (!ec) acceptor->set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) acceptor->bind(ep, ec);
  if (!ec) acceptor->listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    acceptor.reset();
    ios.clear();
    guards.clear();
    return Status::Unavailable("cannot bind " + opts.host + ":" + std::to_string(opts.port));
  }
  port = acceptor->local_endpoint().port();
  accept_retry = std::make_unique<asio::steady_timer>(*ios[0]);
  workers = std::make_unique<asio::thread_pool>(std::max<size_t>(1, opts.worker_threads));
  stopping = false;
  Accept();
  for (auto& io : ios) {
    threads.emplace_back([io = io.get()] {
      for (;;) {
        try {
          io->run();
          return;
        } catch (...) {
          // A handler's exception is caught where it runs; nothing else
          // should throw, and the loop must not die if something does.
        }
      }
    });
  }
  started = true;
  return Status::Ok();
}

void AsioListener::Impl::Accept() {
  asio::io_context& io = *ios[next_io++ % ios.size()];
  acceptor->async_accept(io, [this, &io](beast::error_code ec, tcp::socket socket) {
    if (ec == asio::error::operation_aborted || !acceptor->is_open()) return;
    if (ec) {
      // Out of descriptors, say: try again shortly rather than spin.
      accept_retry->expires_after(std::chrono::milliseconds(50));
      accept_retry->async_wait([this](beast::error_code e) {
        if (!e) Accept();
      });
      return;
    }
    if (stopping || connections.load() >= opts.max_connections) {
      beast::error_code ignored;
      socket.close(ignored);
    } else {
      asio::post(io, [this, &io, s = std::move(socket)]() mutable {
        std::shared_ptr<ConnectionBase> c;
        if (tls) {
          c = std::make_shared<Connection<beast::ssl_stream<beast::tcp_stream>>>(std::move(s), *tls, io, this);
        } else {
          c = std::make_shared<Connection<beast::tcp_stream>>(std::move(s), io, this);
        }
        Register(c);
        c->Start();
      });
    }
    Accept();
  });
}

void AsioListener::Impl::Register(const std::shared_ptr<ConnectionBase>& c) {
  std::lock_guard<std::mutex> l(conns_mu);
  conns.emplace(c.get(), c);
  const size_t n = connections.fetch_add(1) + 1;
  if (opts.on_connections) opts.on_connections(n);
}

void AsioListener::Impl::Unregister(ConnectionBase* c) {
  std::lock_guard<std::mutex> l(conns_mu);
  if (!conns.erase(c)) return;
  const size_t n = connections.fetch_sub(1) - 1;
  if (opts.on_connections) opts.on_connections(n);
}

void AsioListener::Impl::Stop() {
  if (!started) return;
  started = false;
  stopping = true;
  asio::post(*ios[0], [this] {
    beast::error_code ec;
    acceptor->close(ec);
    accept_retry->cancel();
  });
  std::vector<std::shared_ptr<ConnectionBase>> live;
  {
    std::lock_guard<std::mutex> l(conns_mu);
    for (auto& [ptr, weak] : conns) {
      if (auto c = weak.lock()) live.push_back(std::move(c));
    }
  }
  // Connection::Start registered each before any of its handlers ran; a
  // connection posted but not yet started sees `stopping` in ReadHeader.
  for (auto& c : live) {
    asio::post(c->io(), [c] { c->CloseIfIdle(); });
  }
  live.clear();
  for (auto& g : guards) g.reset();
  for (std::thread& t : threads) t.join();
  threads.clear();
  workers->join();
}

AsioListener::AsioListener(AsioListenerOptions options, ListenerRouter router, ListenerErrorHandler on_error)
    : impl_(std::make_unique<Impl>(std::move(options), std::move(router), std::move(on_error))) {}

AsioListener::~AsioListener() = default;

Status AsioListener::Start() { return impl_->Start(); }
void AsioListener::Stop() { impl_->Stop(); }
int AsioListener::port() const { return impl_->port; }

}  // namespace consentd::http
