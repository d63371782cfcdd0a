// AsioListener on 127.0.0.1:0, spoken to over raw sockets: what reaches the
// wire for pipelined, malformed, oversized, slow and half-sent requests, and
// that a blocked worker route never stalls the event loop's routes.
#include "src/http/asio_listener.h"

#include <arpa/inet.h>
#include <httplib.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <catch2/catch.hpp>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <string>
#include <thread>

namespace consentd::http {
namespace {

using Handler = std::function<void(const httplib::Request&, httplib::Response&)>;

// A blocking socket to the listener with a receive timeout.
class RawClient {
 public:
  explicit RawClient(int port) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(static_cast<uint16_t>(port));
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    connected_ = ::connect(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
  }
  ~RawClient() { ::close(fd_); }
  bool connected() const { return connected_; }
  void Send(const std::string& s) {
    size_t off = 0;
    while (off < s.size()) {
      ssize_t n = ::send(fd_, s.data() + off, s.size() - off, MSG_NOSIGNAL);
      if (n <= 0) return;
      off += static_cast<size_t>(n);
    }
  }
  // Reads until `stop` appears `count` times, the peer closes, or `ms` pass.
  std::string ReadUntil(const std::string& stop, int count = 1, int ms = 5000) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(ms);
    while (Count(stop) < static_cast<size_t>(count)) {
      const int left = static_cast<int>(
          std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now()).count());
      if (left <= 0) break;
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, left) <= 0) break;
      char buf[8192];
      ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
      if (n <= 0) {
        closed_ = true;
        break;
      }
      got_.append(buf, static_cast<size_t>(n));
    }
    return got_;
  }
  // True when the peer closes within `ms` (reading and keeping what comes).
  bool ClosedWithin(int ms) {
    ReadUntil("\x01never\x02", 1, ms);
    return closed_;
  }
  const std::string& got() const { return got_; }

 private:
  size_t Count(const std::string& s) const {
    size_t n = 0;
    for (size_t p = got_.find(s); p != std::string::npos; p = got_.find(s, p + s.size())) ++n;
    return n;
  }
  int fd_ = -1;
  bool connected_ = false;
  bool closed_ = false;
  std::string got_;
};

// Routes: GET /echo?x=.. (inline) answers the decoded x and the body size;
// POST /echo (worker) answers the body; GET /block (worker) waits until
// released; anything else 404 through the error handler.
struct Fixture {
  explicit Fixture(AsioListenerOptions o = {}) {
    echo = [](const httplib::Request& req, httplib::Response& res) {
      res.status = 200;
      res.set_content("x=" + req.get_param_value("x") + " body=" + req.body, "text/plain");
    };
    block = [this](const httplib::Request&, httplib::Response& res) {
      {
        std::unique_lock<std::mutex> l(mu);
        blocked = true;
        cv.notify_all();
        cv.wait(l, [&] { return released; });
      }
      res.status = 200;
      res.set_content("unblocked", "text/plain");
    };
    thrower = [](const httplib::Request&, httplib::Response&) { throw std::runtime_error("secret text"); };
    o.host = "127.0.0.1";
    o.port = 0;
    listener = std::make_unique<AsioListener>(
        o,
        [this](httplib::Request& req) -> ListenerTarget {
          if (req.path == "/echo") return {&echo, req.method == "GET" || req.method == "HEAD"};
          if (req.path == "/block") return {&block, false};
          if (req.path == "/throw") return {&thrower, true};
          return {};
        },
        [this](const httplib::Request& req, httplib::Response& res) {
          errors.fetch_add(1);
          res.set_content("error " + std::to_string(res.status) + " path=" + req.path, "application/problem+json");
        });
    REQUIRE(listener->Start().ok());
    port = listener->port();
  }
  ~Fixture() {
    Release();
    listener->Stop();
  }
  void Release() {
    std::lock_guard<std::mutex> l(mu);
    released = true;
    cv.notify_all();
  }
  void WaitBlocked() {
    std::unique_lock<std::mutex> l(mu);
    REQUIRE(cv.wait_for(l, std::chrono::seconds(5), [&] { return blocked; }));
  }

  Handler echo, block, thrower;
  std::mutex mu;
  std::condition_variable cv;
  bool blocked = false, released = false;
  std::atomic<int> errors{0};
  std::unique_ptr<AsioListener> listener;
  int port = 0;
};

TEST_CASE("Pipelined requests on one connection are answered in order, with query and body decoded", "[http][asio]") {
  Fixture f;
  RawClient c(f.port);
  REQUIRE(c.connected());
  c.Send("GET /echo?x=a%40b.example HTTP/1.1\r\nHost: t\r\n\r\n"
         "POST /echo?x=2 HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\n\r\nhello"
         "GET /echo?x=3+4 HTTP/1.1\r\nHost: t\r\n\r\n");
  const std::string got = c.ReadUntil("HTTP/1.1 200 OK", 3);
  const size_t a = got.find("x=a@b.example body=");
  const size_t b = got.find("x=2 body=hello");
  const size_t d = got.find("x=3 4 body=");
  REQUIRE(a != std::string::npos);
  REQUIRE(b != std::string::npos);
  REQUIRE(d != std::string::npos);
  CHECK(a < b);
  CHECK(b < d);
  CHECK(got.find("Connection: close") == std::string::npos);
  CHECK(got.find("Content-Length: 19\r\n") != std::string::npos);  // "x=a@b.example body="
}

TEST_CASE("A malformed request line is answered 400 through the error handler and the connection closes",
          "[http][asio]") {
  Fixture f;
  RawClient c(f.port);
  c.Send("GET /echo HTTP/9\r\n\r\n");
  CHECK(c.ClosedWithin(3000));
  CHECK(c.got().rfind("HTTP/1.1 400 Bad Request\r\n", 0) == 0);
  CHECK(c.got().find("Connection: close") != std::string::npos);
  CHECK(c.got().find("error 400") != std::string::npos);
  CHECK(f.errors == 1);
}

TEST_CASE("Headers over the limit are answered 431 and never reach a handler", "[http][asio]") {
  AsioListenerOptions o;
  o.max_header_bytes = 1024;
  Fixture f(o);
  RawClient c(f.port);
  c.Send("GET /echo?x=1 HTTP/1.1\r\nHost: t\r\nX-Pad: " + std::string(4000, 'p') + "\r\n\r\n");
  CHECK(c.ClosedWithin(3000));
  CHECK(c.got().rfind("HTTP/1.1 431 ", 0) == 0);
  CHECK(c.got().find("x=1") == std::string::npos);
}

TEST_CASE("A body over the limit is refused 413 from its Content-Length, naming the path, before it is sent",
          "[http][asio]") {
  AsioListenerOptions o;
  o.max_body_bytes = 100;
  Fixture f(o);
  SECTION("announced with Expect: 100-continue, the body is never asked for") {
    RawClient c(f.port);
    c.Send("POST /echo HTTP/1.1\r\nHost: t\r\nExpect: 100-continue\r\nContent-Length: 101\r\n\r\n");
    CHECK(c.ClosedWithin(3000));
    CHECK(c.got().rfind("HTTP/1.1 413 ", 0) == 0);
    CHECK(c.got().find("100 Continue") == std::string::npos);
    CHECK(c.got().find("path=/echo") != std::string::npos);
  }
  SECTION("sent in full anyway, the 413 still arrives (the unread body does not reset it away)") {
    RawClient c(f.port);
    c.Send("POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 200000\r\n\r\n" + std::string(200000, 'b'));
    CHECK(c.ClosedWithin(5000));
    CHECK(c.got().rfind("HTTP/1.1 413 ", 0) == 0);
  }
  SECTION("a chunked body over the limit is cut off at the limit") {
    RawClient c(f.port);
    c.Send("POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n200\r\n" + std::string(0x200, 'c') +
           "\r\n0\r\n\r\n");
    CHECK(c.ClosedWithin(3000));
    CHECK(c.got().rfind("HTTP/1.1 413 ", 0) == 0);
  }
}

TEST_CASE("Expect: 100-continue within the limit gets 100 Continue, then the answer", "[http][asio]") {
  Fixture f;
  RawClient c(f.port);
  c.Send("POST /echo HTTP/1.1\r\nHost: t\r\nExpect: 100-continue\r\nContent-Length: 3\r\n\r\n");
  CHECK(c.ReadUntil("\r\n\r\n").rfind("HTTP/1.1 100 Continue\r\n\r\n", 0) == 0);
  c.Send("abc");
  CHECK(c.ReadUntil("body=abc").find("HTTP/1.1 200 OK") != std::string::npos);
}

TEST_CASE("A chunked request body is accepted, and Content-Length beside Transfer-Encoding is refused 400",
          "[http][asio]") {
  Fixture f;
  {
    RawClient c(f.port);
    c.Send("POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n");
    CHECK(c.ReadUntil("body=abcde").find("HTTP/1.1 200 OK") != std::string::npos);
  }
  {
    // A request-smuggling shape: the two framings disagree.
    RawClient c(f.port);
    c.Send("POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n"
           "0\r\n\r\nGET /echo?x=smuggled HTTP/1.1\r\nHost: t\r\n\r\n");
    CHECK(c.ClosedWithin(3000));
    CHECK(c.got().rfind("HTTP/1.1 400 ", 0) == 0);
    CHECK(c.got().find("smuggled") == std::string::npos);
  }
}

TEST_CASE("HEAD answers the headers with the GET body's length and no body", "[http][asio]") {
  Fixture f;
  RawClient c(f.port);
  c.Send("HEAD /echo?x=1 HTTP/1.1\r\nHost: t\r\n\r\nGET /echo?x=2 HTTP/1.1\r\nHost: t\r\n\r\n");
  const std::string got = c.ReadUntil("x=2 body=");
  CHECK(got.find("Content-Length: 9\r\n") != std::string::npos);  // "x=1 body="
  CHECK(got.find("x=1 body=") == std::string::npos);
}

TEST_CASE("A handler's exception is a 500 through the error handler, with nothing of its text", "[http][asio]") {
  Fixture f;
  RawClient c(f.port);
  c.Send("GET /throw HTTP/1.1\r\nHost: t\r\n\r\n");
  const std::string got = c.ReadUntil("path=/throw");
  CHECK(got.rfind("HTTP/1.1 500 ", 0) == 0);
  CHECK(got.find("secret") == std::string::npos);
}

TEST_CASE("HTTP/1.0 and Connection: close get one answer and a closed connection", "[http][asio]") {
  Fixture f;
  for (const char* req : {"GET /echo?x=1 HTTP/1.0\r\n\r\n", "GET /echo?x=1 HTTP/1.1\r\nConnection: close\r\n\r\n"}) {
    RawClient c(f.port);
    c.Send(req);
    CHECK(c.ClosedWithin(3000));
    CHECK(c.got().find("x=1 body=") != std::string::npos);
    CHECK(c.got().find("Connection: close\r\n") != std::string::npos);
  }
}

TEST_CASE("A route blocked on a worker never stalls the event loop's routes", "[http][asio]") {
  AsioListenerOptions o;
  o.io_threads = 1;  // one loop: an inline answer proves the blocked request is not on it
  o.worker_threads = 2;
  Fixture f(o);
  RawClient blocked(f.port);
  blocked.Send("GET /block HTTP/1.1\r\nHost: t\r\n\r\n");
  f.WaitBlocked();
  RawClient other(f.port);
  other.Send("GET /echo?x=free HTTP/1.1\r\nHost: t\r\n\r\n");
  CHECK(other.ReadUntil("x=free", 1, 3000).find("HTTP/1.1 200 OK") != std::string::npos);
  CHECK(blocked.got().empty());
  f.Release();
  CHECK(blocked.ReadUntil("unblocked").find("HTTP/1.1 200 OK") != std::string::npos);
}

TEST_CASE("Idle and half-sent connections are closed after their timeouts", "[http][asio]") {
  AsioListenerOptions o;
  o.keep_alive_seconds = 1;
  o.read_timeout_seconds = 1;
  Fixture f(o);
  RawClient idle(f.port);
  idle.Send("GET /echo?x=1 HTTP/1.1\r\nHost: t\r\n\r\n");
  CHECK(idle.ReadUntil("x=1").find("200 OK") != std::string::npos);
  CHECK(idle.ClosedWithin(4000));
  RawClient slow(f.port);
  slow.Send("GET /echo?x=1 HTTP/1.1\r\nHo");  // never finished
  CHECK(slow.ClosedWithin(4000));
  CHECK(slow.got().find("x=1") == std::string::npos);
}

TEST_CASE("Connections beyond max_connections are closed at once while the others are served", "[http][asio]") {
  AsioListenerOptions o;
  o.max_connections = 2;
  std::atomic<size_t> open{99};
  o.on_connections = [&open](size_t n) { open = n; };
  Fixture f(o);
  RawClient a(f.port), b(f.port);
  a.Send("GET /echo?x=a HTTP/1.1\r\nHost: t\r\n\r\n");
  b.Send("GET /echo?x=b HTTP/1.1\r\nHost: t\r\n\r\n");
  REQUIRE(a.ReadUntil("x=a").find("200 OK") != std::string::npos);
  REQUIRE(b.ReadUntil("x=b").find("200 OK") != std::string::npos);
  CHECK(open == 2);  // the gauge's callback saw both
  RawClient c(f.port);
  c.Send("GET /echo?x=c HTTP/1.1\r\nHost: t\r\n\r\n");
  CHECK(c.ClosedWithin(3000));
  CHECK(c.got().empty());
  CHECK(open == 2);  // refused connections are never counted
  {
    RawClient closing(f.port);  // a's and b's slots are taken: refused too
  }
  a.Send("GET /echo?x=bye HTTP/1.1\r\nConnection: close\r\n\r\n");
  CHECK(a.ClosedWithin(3000));
  for (int i = 0; i < 200 && open != 1; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  CHECK(open == 1);
}

TEST_CASE("Stop closes idle connections at once and lets a request on a worker finish its answer", "[http][asio]") {
  Fixture f;
  RawClient idle(f.port);
  idle.Send("GET /echo?x=1 HTTP/1.1\r\nHost: t\r\n\r\n");
  REQUIRE(idle.ReadUntil("x=1").find("200 OK") != std::string::npos);
  RawClient busy(f.port);
  busy.Send("GET /block HTTP/1.1\r\nHost: t\r\n\r\n");
  f.WaitBlocked();
  std::thread releaser([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    f.Release();
  });
  f.listener->Stop();
  releaser.join();
  CHECK(idle.ClosedWithin(1000));
  const std::string got = busy.ReadUntil("unblocked", 1, 2000);
  CHECK(got.find("HTTP/1.1 200 OK") != std::string::npos);
  CHECK(got.find("Connection: close") != std::string::npos);
  RawClient after(f.port);
  CHECK_FALSE(after.connected());
}

}  // namespace
}  // namespace consentd::http
