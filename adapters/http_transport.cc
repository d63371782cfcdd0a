#include "adapters/http_transport.h"

#include <httplib.h>

#include <chrono>
#include <exception>

namespace consentd::adapters {

namespace {

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    char x = a[i], y = b[i];
    if (x >= 'A' && x <= 'Z') x = static_cast<char>(x - 'A' + 'a');
    if (y >= 'A' && y <= 'Z') y = static_cast<char>(y - 'A' + 'a');
    if (x != y) return false;
  }
  return true;
}

// Splits "scheme://host[:port]/path?query" into origin and path+query.
bool SplitUrl(const std::string& url, std::string* origin, std::string* target) {
  size_t scheme_end = url.find("://");
  if (scheme_end == std::string::npos) return false;
  std::string_view scheme(url.data(), scheme_end);
  if (scheme != "http" && scheme != "https") return false;
  size_t path_start = url.find('/', scheme_end + 3);
  if (path_start == scheme_end + 3) return false;  // no host
  *origin = url.substr(0, path_start);
  *target = path_start == std::string::npos ? "/" : url.substr(path_start);
  return true;
}

}  // namespace

std::string_view TransportErrorCode(TransportError e) {
  switch (e) {
    case TransportError::kNone: return "ok";
    case TransportError::kConnectionRefused: return "connection_refused";
    case TransportError::kTimeout: return "timeout";
    case TransportError::kConnectionDropped: return "connection_dropped";
    case TransportError::kTls: return "tls_error";
    case TransportError::kBadUrl: return "bad_url";
    case TransportError::kOther: return "transport_error";
  }
  return "transport_error";
}

std::string HttpResponse::Header(std::string_view name) const {
  for (const auto& [k, v] : headers) {
    if (EqualsIgnoreCase(k, name)) return v;
  }
  return "";
}

// Idle clients of one origin. A client is taken out while a request runs,
// so no two threads share one (httplib::Client serialises its requests).
struct HttplibTransport::Pool {
  std::mutex mu;
  std::vector<std::unique_ptr<httplib::Client>> idle;  // guarded by mu
};

HttplibTransport::HttplibTransport() : HttplibTransport(Options()) {}
HttplibTransport::HttplibTransport(Options options) : options_(std::move(options)) {}
HttplibTransport::~HttplibTransport() = default;

HttpResponse HttplibTransport::Send(const HttpRequest& request) {
  HttpResponse out;
  std::string origin, target;
  if (!SplitUrl(request.url, &origin, &target)) {
    out.error = TransportError::kBadUrl;
    return out;
  }
  Pool* pool;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto& p = pools_[origin];
    if (!p) p = std::make_unique<Pool>();
    pool = p.get();
  }
  std::unique_ptr<httplib::Client> client;
  {
    std::lock_guard<std::mutex> lock(pool->mu);
    if (!pool->idle.empty()) {
      client = std::move(pool->idle.back());
      pool->idle.pop_back();
    }
  }
  try {
    if (!client) {
      client = std::make_unique<httplib::Client>(origin);
      if (!client->is_valid()) {
        out.error = TransportError::kBadUrl;
        return out;
      }
      client->set_keep_alive(true);
      client->set_tcp_nodelay(true);
      client->enable_server_certificate_verification(true);
      if (!options_.ca_file.empty()) client->set_ca_cert_path(options_.ca_file.c_str());
    }
    const auto timeout = std::chrono::milliseconds(request.timeout_ms);
    client->set_connection_timeout(timeout);
    client->set_read_timeout(timeout);
    client->set_write_timeout(timeout);

    httplib::Request req;
    req.method = request.method;
    req.path = target;
    for (const auto& [k, v] : request.headers) req.headers.emplace(k, v);
    if (!request.content_type.empty()) req.headers.emplace("Content-Type", request.content_type);
    req.body = request.body;

    const auto started = std::chrono::steady_clock::now();
    httplib::Result result = client->send(req);
    const auto elapsed = std::chrono::steady_clock::now() - started;
    if (!result) {
      switch (result.error()) {
        case httplib::Error::Connection:
          out.error = elapsed >= timeout ? TransportError::kTimeout : TransportError::kConnectionRefused;
          break;
        case httplib::Error::ConnectionTimeout:
          out.error = TransportError::kTimeout;
          break;
        case httplib::Error::Read:
        case httplib::Error::Write:
          // cpp-httplib reports a read timeout and a reset alike; the clock
          // tells them apart.
          out.error = elapsed >= timeout ? TransportError::kTimeout : TransportError::kConnectionDropped;
          break;
        case httplib::Error::SSLConnection:
        case httplib::Error::SSLLoadingCerts:
        case httplib::Error::SSLServerVerification:
          out.error = TransportError::kTls;
          break;
        default:
          out.error = TransportError::kOther;
          break;
      }
      return out;  // the client is dropped: its connection state is unknown
    }
    out.status = result->status;
    out.body = std::move(result->body);
    for (const auto& [k, v] : result->headers) out.headers.emplace_back(k, v);
    const bool reusable = !EqualsIgnoreCase(out.Header("Connection"), "close");
    if (reusable) {
      std::lock_guard<std::mutex> lock(pool->mu);
      if (pool->idle.size() < options_.max_idle_per_origin) pool->idle.push_back(std::move(client));
    }
    return out;
  } catch (const std::exception&) {
    // cpp-httplib may throw (e.g. std::bad_alloc, regex errors); its text
    // could echo the URL, which can hold personal data: never surfaced.
    HttpResponse failed;
    failed.error = TransportError::kOther;
    return failed;
  }
}

}  // namespace consentd::adapters
