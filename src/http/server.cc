#include "src/http/server.h"

#include <httplib.h>

#include <arpa/inet.h>
#include <dirent.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include <array>
#include <chrono>
#include <regex>
#include <cstdlib>
#include <mutex>
#include <nlohmann/json.hpp>
#include <set>
#include <thread>
#include <vector>

#include "src/base/bytes.h"
#include "src/http/asio_listener.h"

namespace consentd::http {
namespace {

constexpr char kProblemJson[] = "application/problem+json";

std::string ScopeNames(const std::vector<auth::Scope>& scopes) {
  std::string out;
  for (const auth::Scope& s : scopes) {
    if (!out.empty()) out += ", ";
    out += s.Name();
  }
  return out;
}

Problem ProblemForHttpStatus(int status) {
  switch (status) {
    case 400: return Problem::BadRequest("malformed HTTP request");
    case 401: return Problem::Unauthorized();
    case 403: return Problem::Forbidden("");
    case 404: return Problem::NotFound("no such route");
    case 405: return Problem::MethodNotAllowed();
    case 413: return Problem::PayloadTooLarge(0);
    case 414: return Problem::BadRequest("URI too long");
    case 503: return Problem::Unavailable("");
    default: break;
  }
  if (status >= 500) return Problem::Internal();
  Problem p = Problem::BadRequest("request rejected");
  p.status = status;
  return p;
}

// httplib 0.11.4 notices stop() only between requests: a worker waiting on
// an idle keep-alive connection first waits out the keep-alive timeout (30
// s), so SIGTERM would take that long with any pooled client connected.
// Shutting down the read side of the idle connections accepted on `port`
// ends those waits at once. Busy ones (peer port in `busy`) are left alone:
// httplib will not write a response on a socket whose read side is shut.
void ShutdownIdleReadsOnPort(int port, const std::multiset<int>& busy) {
  std::vector<int> fds;
  if (DIR* d = ::opendir("/proc/self/fd")) {
    while (dirent* e = ::readdir(d)) {
      char* end = nullptr;
      long fd = std::strtol(e->d_name, &end, 10);
      if (end != e->d_name && *end == '\0' && fd != ::dirfd(d)) fds.push_back(static_cast<int>(fd));
    }
    ::closedir(d);
  }
  for (int fd : fds) {
    struct stat st;
    if (::fstat(fd, &st) != 0 || !S_ISSOCK(st.st_mode)) continue;
    sockaddr_storage local{}, peer{};
    socklen_t len = sizeof local;
    if (::getsockname(fd, reinterpret_cast<sockaddr*>(&local), &len) != 0) continue;
    auto port_of = [](const sockaddr_storage& a) {
      if (a.ss_family == AF_INET) return static_cast<int>(ntohs(reinterpret_cast<const sockaddr_in*>(&a)->sin_port));
      if (a.ss_family == AF_INET6) return static_cast<int>(ntohs(reinterpret_cast<const sockaddr_in6*>(&a)->sin6_port));
      return -1;
    };
    len = sizeof peer;
    // Only connected sockets whose local end is our port: accepted
    // connections (never our own clients, whose local port is ephemeral).
    if (port_of(local) != port || ::getpeername(fd, reinterpret_cast<sockaddr*>(&peer), &len) != 0) continue;
    if (busy.count(port_of(peer))) continue;
    ::shutdown(fd, SHUT_RD);
  }
}

// RFC 9457 "instance": which occurrence of the problem this is. The path of
// a matched route (routes match fixed text or hex ids, so it holds no
// personal data) or, for requests no route matched (an arbitrary path),
// a URN; never the query string, which may hold an email. Both carry the
// request id, which the error log line names too.
void AddInstance(httplib::Response& res, const std::string& path) {
  if (res.get_header_value("Content-Type") != kProblemJson) return;
  nlohmann::json j = nlohmann::json::parse(res.body, nullptr, false);
  if (!j.is_object() || j.contains("instance")) return;
  const std::string id = res.get_header_value("X-Request-Id");
  j["instance"] = path.empty() ? "urn:consentd:request:" + id : path + "#req-" + id;
  res.set_content(j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace), kProblemJson);
}

// Request counters of one route by status, found once each: looking one up
// renders its labels and takes the registry's lock.
class StatusCounters {
 public:
  StatusCounters(obs::MetricsRegistry& m, std::string route) : metrics_(m), route_(std::move(route)) {}
  obs::Counter& For(int status) {
    if (status < 100 || status >= static_cast<int>(cache_.size())) return Lookup(status);
    std::atomic<obs::Counter*>& slot = cache_[static_cast<size_t>(status)];
    obs::Counter* c = slot.load(std::memory_order_acquire);
    if (!c) {
      c = &Lookup(status);
      slot.store(c, std::memory_order_release);
    }
    return *c;
  }

 private:
  obs::Counter& Lookup(int status) {
    return metrics_.GetCounter("consentd_http_requests_total", "HTTP requests by route and status",
                               {{"route", route_}, {"status", std::to_string(status)}});
  }
  obs::MetricsRegistry& metrics_;
  const std::string route_;
  std::array<std::atomic<obs::Counter*>, 600> cache_{};
};

}  // namespace

struct HttpServer::AsioRoute {
  Method method;
  std::string pattern;
  bool literal;
  std::regex re;
  bool run_inline;
  std::function<void(const httplib::Request&, httplib::Response&)> fn;
};

void Reply(httplib::Response& res, const Problem& p) {
  res.status = p.status;
  res.set_content(p.ToJson(), kProblemJson);
}

void ReplyJson(httplib::Response& res, const std::string& json, int status) {
  res.status = status;
  res.set_content(json, "application/json");
}

HttpServer::HttpServer(ServerOptions options, Authenticator authenticator, obs::MetricsRegistry& metrics,
                       const obs::Logger& logger)
    : options_(std::move(options)), authenticator_(std::move(authenticator)), metrics_(metrics), logger_(logger) {
  id_prefix_ = HexEncode(AsBytes(RandomBytes(4))) + "-";
  const bool tls = !options_.tls_cert_file.empty() && !options_.tls_key_file.empty();
  if (tls && options_.engine == Engine::kHttplib) {
    server_ = std::make_unique<httplib::SSLServer>(options_.tls_cert_file.c_str(), options_.tls_key_file.c_str());
  } else {
    server_ = std::make_unique<httplib::Server>();
  }
  Install();
}

HttpServer::~HttpServer() { Stop(); }

void HttpServer::Install() {
  httplib::Server& s = *server_;
  const size_t threads = options_.threads;
  s.new_task_queue = [threads] { return new httplib::ThreadPool(threads); };
  s.set_tcp_nodelay(true);
  s.set_keep_alive_max_count(100000);
  s.set_keep_alive_timeout(30);
  s.set_read_timeout(options_.read_timeout_seconds, 0);
  payload_max_bytes_ = options_.max_body_bytes;
  s.set_payload_max_length(payload_max_bytes_);
  // Without this handler httplib 0.11.4 copies e.what() into a response
  // header; an exception text may hold personal data, so it is neither sent
  // nor logged: only that one happened.
  s.set_exception_handler([this](const httplib::Request& req, httplib::Response& res, std::exception_ptr) {
    logger_.Error("http.exception",
                  {{"method", req.method}, {"status", 500}, {"request_id", res.get_header_value("X-Request-Id")}});
    Reply(res, Problem::Internal());
    AddInstance(res, "");
  });
  // httplib's own errors (unknown route, body over the limit, bad request
  // line) get a problem+json body; responses that already have one keep it.
  httplib::Server::HandlerWithResponse on_error = [this](const httplib::Request& req, httplib::Response& res) {
    if (!res.has_header("X-Request-Id")) {
      res.set_header("X-Request-Id", id_prefix_ + std::to_string(next_request_id_.fetch_add(1)));
    }
    if (!res.body.empty()) return httplib::Server::HandlerResponse::Unhandled;
    Reply(res, res.status == 413 ? Problem::PayloadTooLarge(payload_max_bytes_) : ProblemForHttpStatus(res.status));
    // The path only when it is one of our fixed routes (e.g. a body over
    // the limit): any other path is arbitrary client text.
    AddInstance(res, literal_routes_.count(req.path) ? req.path : "");
    return httplib::Server::HandlerResponse::Handled;
  };
  s.set_error_handler(on_error);
  on_error_ = [on_error](const httplib::Request& req, httplib::Response& res) { on_error(req, res); };
  // Runs after the response was written.
  s.set_logger([this](const httplib::Request& req, const httplib::Response&) {
    std::lock_guard<std::mutex> l(busy_mu_);
    auto it = busy_ports_.find(req.remote_port);
    if (it != busy_ports_.end()) busy_ports_.erase(it);
  });
}

void HttpServer::Handle(Route route, Handler handler) {
  // options_.max_body_bytes stays the default of routes without their own
  // limit; httplib's limit is the largest of all routes'.
  const size_t limit = route.max_body_bytes ? route.max_body_bytes : options_.max_body_bytes;
  if (limit > payload_max_bytes_) {
    payload_max_bytes_ = limit;
    server_->set_payload_max_length(limit);
  }
  if (route.pattern == route.name) literal_routes_.insert(route.pattern);
  obs::Histogram* latency = &metrics_.GetHistogram("consentd_http_request_duration_seconds",
                                                   "HTTP request latency by route", obs::LatencyBuckets(),
                                                   {{"route", route.name}});
  auto counters = std::make_shared<StatusCounters>(metrics_, route.name);
  const bool track_busy = options_.engine == Engine::kHttplib;
  auto wrapped = [this, route, handler, limit, latency, counters, track_busy](const httplib::Request& req,
                                                                              httplib::Response& res) {
    const auto start = std::chrono::steady_clock::now();
    if (track_busy) {
      // Busy until the response is written (the logger below), so that Stop
      // does not cut it off.
      std::lock_guard<std::mutex> l(busy_mu_);
      busy_ports_.insert(req.remote_port);
    }
    res.set_header("X-Request-Id", id_prefix_ + std::to_string(next_request_id_.fetch_add(1)));
    auth::Principal principal;
    bool allowed = true;
    if (!route.scopes.empty()) {
      const std::string header = req.get_header_value("Authorization");
      constexpr std::string_view kBearer = "Bearer ";
      Result<auth::Principal> p = Status::NotFound("no token");
      if (header.size() > kBearer.size() && std::string_view(header).substr(0, kBearer.size()) == kBearer) {
        p = authenticator_(std::string_view(header).substr(kBearer.size()));
      }
      if (!p.ok()) {
        res.set_header("WWW-Authenticate", "Bearer");
        Reply(res, Problem::Unauthorized());
        allowed = false;
      } else if (!p->HasAny(route.scopes)) {
        Reply(res, Problem::Forbidden(ScopeNames(route.scopes)));
        allowed = false;
      } else {
        principal = std::move(*p);
      }
    }
    if (allowed && req.body.size() > limit) {
      Reply(res, Problem::PayloadTooLarge(limit));
      allowed = false;
    }
    if (allowed) {
      try {
        handler(req, res, principal);
      } catch (...) {
        logger_.Error("http.exception", {{"route", route.name},
                                         {"status", 500},
                                         {"request_id", res.get_header_value("X-Request-Id")}});
        Reply(res, Problem::Internal());
      }
    }
    if (res.status >= 400) AddInstance(res, req.path);
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    latency->Observe(seconds);
    counters->For(res.status).Add();
    if (res.status >= 500) {
      logger_.Error("http.error", {{"route", route.name},
                                   {"status", res.status},
                                   {"request_id", res.get_header_value("X-Request-Id")}});
    }
  };
  if (options_.engine == Engine::kAsio) {
    const bool literal = route.pattern == route.name;
    asio_routes_.push_back(std::make_unique<AsioRoute>(
        AsioRoute{route.method, route.pattern, literal, literal ? std::regex() : std::regex(route.pattern),
                  route.run_inline, std::move(wrapped)}));
    return;
  }
  switch (route.method) {
    case Method::kGet: server_->Get(route.pattern, wrapped); break;
    case Method::kPost: server_->Post(route.pattern, wrapped); break;
    case Method::kPut: server_->Put(route.pattern, wrapped); break;
    case Method::kDelete: server_->Delete(route.pattern, wrapped); break;
  }
}

Status HttpServer::Start() {
  if (options_.engine == Engine::kAsio) {
    AsioListenerOptions lo;
    lo.host = options_.host;
    lo.port = options_.port;
    lo.io_threads = options_.io_threads;
    lo.worker_threads = options_.threads;
    lo.max_body_bytes = payload_max_bytes_;
    lo.read_timeout_seconds = options_.read_timeout_seconds;
    lo.tls_cert_file = options_.tls_cert_file;
    lo.tls_key_file = options_.tls_key_file;
    obs::Gauge* open = &metrics_.GetGauge("consentd_http_open_connections",
                                          "HTTP connections open on the event-driven listener");
    lo.on_connections = [open](size_t n) { open->Set(static_cast<double>(n)); };
    // Literal routes first (a hash of fixed paths would do no better for
    // the few dozen routes), then the patterned ones in registration order,
    // as httplib matches them.
    ListenerRouter router = [this](httplib::Request& req) -> ListenerTarget {
      Method m;
      if (req.method == "GET" || req.method == "HEAD") m = Method::kGet;
      else if (req.method == "POST") m = Method::kPost;
      else if (req.method == "PUT") m = Method::kPut;
      else if (req.method == "DELETE") m = Method::kDelete;
      else return {};
      for (const auto& r : asio_routes_) {
        if (r->literal && r->method == m && r->pattern == req.path) return {&r->fn, r->run_inline};
      }
      for (const auto& r : asio_routes_) {
        if (!r->literal && r->method == m && std::regex_match(req.path, req.matches, r->re)) {
          return {&r->fn, r->run_inline};
        }
      }
      return {};
    };
    listener_ = std::make_unique<AsioListener>(lo, std::move(router), on_error_);
    Status s = listener_->Start();
    if (!s.ok()) {
      listener_.reset();
      return s;
    }
    port_ = listener_->port();
    return Status::Ok();
  }
  if (!server_->is_valid()) return Status::InvalidArgument("TLS certificate or key cannot be loaded");
  if (options_.port == 0) {
    port_ = server_->bind_to_any_port(options_.host);
    if (port_ < 0) return Status::Unavailable("cannot bind " + options_.host);
  } else {
    if (!server_->bind_to_port(options_.host, options_.port)) {
      return Status::Unavailable("cannot bind " + options_.host + ":" + std::to_string(options_.port));
    }
    port_ = options_.port;
  }
  serving_done_ = false;
  thread_ = std::thread([this] {
    server_->listen_after_bind();
    serving_done_ = true;
  });
  return Status::Ok();
}

void HttpServer::Stop() {
  if (listener_) {
    listener_->Stop();
    return;
  }
  if (server_) server_->stop();
  if (!thread_.joinable()) return;
  // Until httplib's workers are done: end idle keep-alive waits (again for
  // connections accepted while stopping).
  while (!serving_done_) {
    {
      std::lock_guard<std::mutex> l(busy_mu_);
      ShutdownIdleReadsOnPort(port_, busy_ports_);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  thread_.join();
}

}  // namespace consentd::http
