// HttpServer in-process on 127.0.0.1:0: the conventions every route shares
// (src/http/server.h): exceptions answered with a generic 500 that carries
// nothing of the exception, problem+json for httplib's own errors, body
// limits, authentication and scopes, request ids and request metrics.
#include "src/http/server.h"

#include <httplib.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <stdexcept>
#include <thread>

namespace consentd::http {
namespace {

using nlohmann::json;

const char kToken[] = "good-token";
const char kSecret[] = "secret alice@example.com";

std::string TempFile(const std::string& name) {
  return (std::filesystem::temp_directory_path() /
          (name + "-" + std::to_string(::getpid()) + "-" + std::to_string(std::rand())))
      .string();
}

std::string ReadAll(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// A server with a few routes, authenticating kToken as a marketing token.
// Every test runs on both engines: the conventions must not depend on which
// server runs the handlers.
struct Fixture {
  explicit Fixture(size_t max_body, Engine engine)
      : log_path(TempFile("server-test-log")), logger(obs::LogLevel::kInfo, log_path) {
    INFO("engine " << (engine == Engine::kAsio ? "asio" : "httplib"));
    ServerOptions o;
    o.engine = engine;
    o.host = "127.0.0.1";
    o.port = 0;
    o.threads = 4;
    o.max_body_bytes = max_body;
    server = std::make_unique<HttpServer>(
        o,
        [](std::string_view token) -> Result<auth::Principal> {
          if (token == "throw") throw std::runtime_error(kSecret);
          if (token != kToken) return Status::NotFound("invalid or revoked token");
          auth::Principal p;
          p.token_id = "00000000000000aa";
          p.name = "test";
          p.scopes = {auth::Scope::Marketing()};
          return p;
        },
        metrics, logger);
  }
  ~Fixture() {
    server->Stop();
    std::error_code ec;
    std::filesystem::remove(log_path, ec);
  }
  void Start() {
    REQUIRE(server->Start().ok());
    REQUIRE(server->port() > 0);
    client = std::make_unique<httplib::Client>("127.0.0.1", server->port());
    client->set_tcp_nodelay(true);
    client->set_connection_timeout(5, 0);
    client->set_read_timeout(30, 0);
  }
  httplib::Headers Auth(const std::string& token = kToken) { return {{"Authorization", "Bearer " + token}}; }

  std::string log_path;
  obs::MetricsRegistry metrics;
  obs::Logger logger;
  std::unique_ptr<HttpServer> server;
  std::unique_ptr<httplib::Client> client;
};

void CheckProblem(const httplib::Response& res, int status, const std::string& type) {
  INFO(res.body);
  CHECK(res.status == status);
  CHECK(res.get_header_value("Content-Type") == "application/problem+json");
  json p = json::parse(res.body, nullptr, false);
  REQUIRE(p.is_object());
  CHECK(p.value("type", "") == "urn:consentd:problem:" + type);
  CHECK(p.value("status", 0) == status);
  CHECK(p.contains("title"));
  // Every problem names its occurrence: a path or URN with the request id,
  // never a query string.
  const std::string instance = p.value("instance", "");
  const std::string id = res.get_header_value("X-Request-Id");
  CHECK(!id.empty());
  CHECK(instance.size() > id.size());
  CHECK(instance.substr(instance.size() - id.size()) == id);
  CHECK(instance.find('?') == std::string::npos);
}

// Every header name and value and the body, as one string.
std::string Everything(const httplib::Response& res) {
  std::string all;
  for (const auto& [k, v] : res.headers) all += k + ": " + v + "\n";
  return all + res.body;
}

TEST_CASE("A handler that throws gets a generic 500 problem with nothing of the exception in it", "[http]") {
  Fixture f(1024, GENERATE(Engine::kAsio, Engine::kHttplib));
  f.server->Handle({Method::kGet, "/throw", "/throw", {}, 0},
                   [](const httplib::Request&, httplib::Response&, const auth::Principal&) {
                     throw std::runtime_error(kSecret);
                   });
  f.server->Handle({Method::kPost, "/throw-int", "/throw-int", {auth::Scope::Marketing()}, 0},
                   [](const httplib::Request&, httplib::Response& res, const auth::Principal&) {
                     res.set_header("X-Partial", "written before the throw");
                     throw 42;
                   });
  f.server->Handle({Method::kGet, "/auth", "/auth", {auth::Scope::Marketing()}, 0},
                   [](const httplib::Request&, httplib::Response& res, const auth::Principal&) {
                     ReplyJson(res, "{}");
                   });
  f.Start();
  std::vector<httplib::Result> results;
  results.push_back(f.client->Get("/throw"));
  results.push_back(f.client->Post("/throw-int", f.Auth(), "{}", "application/json"));
  // The authenticator throwing (outside the handler) goes through httplib's
  // exception handler.
  results.push_back(f.client->Get("/auth", f.Auth("throw")));
  for (httplib::Result& r : results) {
    REQUIRE(r);
    CheckProblem(*r, 500, "internal");
    std::string all = Everything(*r);
    // Without the request id (header and instance): it is random hex and
    // holds "42" now and then.
    const std::string id = r->get_header_value("X-Request-Id");
    for (size_t at = all.find(id); !id.empty() && at != std::string::npos; at = all.find(id)) all.erase(at, id.size());
    CHECK(all.find("secret") == std::string::npos);
    CHECK(all.find("alice") == std::string::npos);
    CHECK(all.find("42") == std::string::npos);
    CHECK_FALSE(r->has_header("EXCEPTION_WHAT"));
    CHECK_FALSE(r->has_header("exception_what"));
    CHECK(r->has_header("X-Request-Id"));
  }
  f.server->Stop();
  const std::string log = ReadAll(f.log_path);
  CHECK(log.find("http.exception") != std::string::npos);
  CHECK(log.find("secret") == std::string::npos);
  CHECK(log.find("alice") == std::string::npos);
  const std::string metrics = f.metrics.Render();
  CHECK(metrics.find(R"(consentd_http_requests_total{route="/throw",status="500"} 1)") != std::string::npos);
}

TEST_CASE("httplib's own errors are problem+json: unknown route 404, body over the limit 413", "[http]") {
  Fixture f(/*max_body=*/1024, GENERATE(Engine::kAsio, Engine::kHttplib));
  f.server->Handle({Method::kPost, "/small", "/small", {}, 0},
                   [](const httplib::Request& req, httplib::Response& res, const auth::Principal&) {
                     ReplyJson(res, json({{"size", req.body.size()}}).dump());
                   });
  f.server->Handle({Method::kPost, "/big", "/big", {}, 64 * 1024},
                   [](const httplib::Request& req, httplib::Response& res, const auth::Principal&) {
                     ReplyJson(res, json({{"size", req.body.size()}}).dump());
                   });
  // Registered after /big raised the server's limit: keeps the default.
  f.server->Handle({Method::kPost, "/small-later", "/small-later", {}, 0},
                   [](const httplib::Request& req, httplib::Response& res, const auth::Principal&) {
                     ReplyJson(res, json({{"size", req.body.size()}}).dump());
                   });
  f.Start();

  httplib::Result unknown = f.client->Get("/nope");
  REQUIRE(unknown);
  CheckProblem(*unknown, 404, "not-found");
  CHECK(unknown->has_header("X-Request-Id"));
  httplib::Result wrong_method = f.client->Get("/small");
  REQUIRE(wrong_method);
  CHECK(wrong_method->status >= 400);
  CHECK(wrong_method->get_header_value("Content-Type") == "application/problem+json");

  httplib::Result ok = f.client->Post("/small", std::string(1000, 'a'), "text/plain");
  REQUIRE(ok);
  CHECK(ok->status == 200);
  for (const char* path : {"/small", "/small-later"}) {
    INFO(path);
    httplib::Result over = f.client->Post(path, std::string(2000, 'a'), "text/plain");
    REQUIRE(over);
    CheckProblem(*over, 413, "payload-too-large");
  }
  httplib::Result big_ok = f.client->Post("/big", std::string(60 * 1024, 'a'), "text/plain");
  REQUIRE(big_ok);
  CHECK(big_ok->status == 200);
  // Over the largest route limit: httplib itself refuses it.
  httplib::Result over_server = f.client->Post("/big", std::string(100 * 1024, 'a'), "text/plain");
  REQUIRE(over_server);
  CheckProblem(*over_server, 413, "payload-too-large");
  CHECK(over_server->has_header("X-Request-Id"));
  // The connection still serves requests after the refusals.
  httplib::Result after = f.client->Post("/small", "x", "text/plain");
  REQUIRE(after);
  CHECK(after->status == 200);
}

TEST_CASE("Routes with scopes answer 401 with WWW-Authenticate or 403, and the handler never runs", "[http][auth]") {
  Fixture f(1024, GENERATE(Engine::kAsio, Engine::kHttplib));
  std::atomic<int> calls{0};
  f.server->Handle({Method::kGet, "/marketing", "/marketing", {auth::Scope::Marketing()}, 0},
                   [&calls](const httplib::Request&, httplib::Response& res, const auth::Principal& who) {
                     ++calls;
                     ReplyJson(res, json({{"token_id", who.token_id}}).dump());
                   });
  f.server->Handle({Method::kGet, "/officer", "/officer", {auth::Scope::Officer()}, 0},
                   [&calls](const httplib::Request&, httplib::Response& res, const auth::Principal&) {
                     ++calls;
                     ReplyJson(res, "{}");
                   });
  f.Start();
  for (const httplib::Headers& h : {httplib::Headers{}, f.Auth("wrong"), httplib::Headers{{"Authorization", kToken}},
                                    httplib::Headers{{"Authorization", "bearer good-token"}}}) {
    httplib::Result r = f.client->Get("/marketing", h);
    REQUIRE(r);
    CheckProblem(*r, 401, "unauthorized");
    CHECK(r->get_header_value("WWW-Authenticate") == "Bearer");
  }
  httplib::Result forbidden = f.client->Get("/officer", f.Auth());
  REQUIRE(forbidden);
  CheckProblem(*forbidden, 403, "forbidden");
  CHECK(calls == 0);
  httplib::Result ok = f.client->Get("/marketing", f.Auth());
  REQUIRE(ok);
  CHECK(ok->status == 200);
  CHECK(json::parse(ok->body)["token_id"] == "00000000000000aa");
  CHECK(calls == 1);
}

TEST_CASE("Every response carries a distinct X-Request-Id and is counted by route and status", "[http][obs]") {
  const Engine engine = GENERATE(Engine::kAsio, Engine::kHttplib);
  Fixture f(1024, engine);
  f.server->Handle({Method::kGet, R"(/items/([0-9]+))", "/items/{id}", {}, 0},
                   [](const httplib::Request&, httplib::Response& res, const auth::Principal&) {
                     ReplyJson(res, "{}");
                   });
  f.server->Handle({Method::kGet, "/problem", "/problem", {}, 0},
                   [](const httplib::Request&, httplib::Response& res, const auth::Principal&) {
                     Reply(res, Problem::BadRequest("/x: must be a string", "/x"));
                   });
  f.Start();
  std::set<std::string> ids;
  for (int i = 0; i < 5; ++i) {
    httplib::Result r = f.client->Get(("/items/" + std::to_string(i)).c_str());
    REQUIRE(r);
    CHECK(r->status == 200);
    REQUIRE(r->has_header("X-Request-Id"));
    ids.insert(r->get_header_value("X-Request-Id"));
  }
  httplib::Result p = f.client->Get("/problem");
  REQUIRE(p);
  CheckProblem(*p, 400, "invalid-field");
  CHECK(json::parse(p->body)["field"] == "/x");
  REQUIRE(p->has_header("X-Request-Id"));
  ids.insert(p->get_header_value("X-Request-Id"));
  CHECK(ids.size() == 6);
  const std::string m = f.metrics.Render();
  // Labelled by the route pattern's name, never by the path (ids could be personal).
  CHECK(m.find(R"(consentd_http_requests_total{route="/items/{id}",status="200"} 5)") != std::string::npos);
  CHECK(m.find(R"(consentd_http_requests_total{route="/problem",status="400"} 1)") != std::string::npos);
  CHECK(m.find(R"(consentd_http_request_duration_seconds_count{route="/items/{id}"} 5)") != std::string::npos);
  CHECK(m.find("/items/3") == std::string::npos);
  // The listener's open connections (the gauge exists once it started).
  if (engine == Engine::kAsio) CHECK(m.find("consentd_http_open_connections ") != std::string::npos);
}

TEST_CASE("Problem maps Status codes to stable problem types and never loses the field", "[http]") {
  CHECK(ProblemFromStatus(Status::InvalidArgument("/purpose: unknown purpose")).type ==
        "urn:consentd:problem:invalid-field");
  CHECK(ProblemFromStatus(Status::InvalidArgument("/purpose: unknown purpose")).field == "/purpose");
  CHECK(ProblemFromStatus(Status::InvalidArgument("/identifiers/2/value: email: no @")).field ==
        "/identifiers/2/value");
  CHECK(ProblemFromStatus(Status::InvalidArgument("no pointer here")).field.empty());
  CHECK(ProblemFromStatus(Status::NotFound("x")).status == 404);
  CHECK(ProblemFromStatus(Status::FailedPrecondition("x")).status == 409);
  CHECK(ProblemFromStatus(Status::Unavailable("x")).status == 503);
  Problem internal = ProblemFromStatus(Status::Internal("sqlite says alice@example.com"));
  CHECK(internal.status == 500);
  CHECK(internal.ToJson().find("alice") == std::string::npos);
  CHECK(ProblemFromStatus(Status::Corruption("alice")).ToJson().find("alice") == std::string::npos);
  CHECK(ProblemFromStatus(Status::IOError("alice")).ToJson().find("alice") == std::string::npos);
  json j = json::parse(Problem::PayloadTooLarge(1024).ToJson());
  CHECK(j["status"] == 413);
  CHECK(j["type"] == "urn:consentd:problem:payload-too-large");
  // Invalid UTF-8 in a detail does not throw.
  CHECK_NOTHROW(Problem::BadRequest(std::string("bad \xff byte")).ToJson());
}

}  // namespace
}  // namespace consentd::http

namespace consentd::http {
namespace {

TEST_CASE("Stop lets an in-flight request finish and does not wait for idle keep-alive connections", "[http]") {
  Fixture f(1024, GENERATE(Engine::kAsio, Engine::kHttplib));
  std::atomic<bool> in_handler{false};
  f.server->Handle({Method::kGet, "/slow", "/slow", {}, 0},
                   [&in_handler](const httplib::Request&, httplib::Response& res, const auth::Principal&) {
                     in_handler = true;
                     std::this_thread::sleep_for(std::chrono::milliseconds(500));
                     ReplyJson(res, R"({"done":true})");
                   });
  f.server->Handle({Method::kGet, "/fast", "/fast", {}, 0},
                   [](const httplib::Request&, httplib::Response& res, const auth::Principal&) { ReplyJson(res, "{}"); });
  f.Start();
  // An idle keep-alive connection (the server's keep-alive timeout is 30 s).
  f.client->set_keep_alive(true);
  httplib::Result idle = f.client->Get("/fast");
  REQUIRE(idle);
  REQUIRE(idle->status == 200);

  httplib::Client slow_client("127.0.0.1", f.server->port());
  slow_client.set_read_timeout(10, 0);
  int slow_status = 0;
  std::string slow_body;
  std::thread t([&] {
    httplib::Result r = slow_client.Get("/slow");
    if (r) {
      slow_status = r->status;
      slow_body = r->body;
    }
  });
  for (int i = 0; i < 500 && !in_handler; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(2));
  REQUIRE(in_handler);
  const auto start = std::chrono::steady_clock::now();
  f.server->Stop();
  const auto took = std::chrono::steady_clock::now() - start;
  t.join();
  CHECK(slow_status == 200);
  CHECK(slow_body == R"({"done":true})");
  CHECK(took < std::chrono::seconds(5));
  // Not accepting any more.
  httplib::Client after("127.0.0.1", f.server->port());
  after.set_connection_timeout(1, 0);
  CHECK_FALSE(after.Get("/fast"));
}

}  // namespace
}  // namespace consentd::http
