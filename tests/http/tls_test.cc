// HttpServer with tls_cert/tls_key: HTTPS on both engines (the asio
// listener through Boost.Asio's OpenSSL stream, cpp-httplib through its
// SSLServer), with a self-signed certificate made for the test.
#include <httplib.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cstdio>
#include <filesystem>
#include <memory>

#include "src/http/server.h"

namespace consentd::http {
namespace {

// Writes a P-256 key and a one-hour self-signed certificate for 127.0.0.1.
void MakeSelfSigned(const std::string& key_path, const std::string& cert_path) {
  std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)> key(EVP_EC_gen("P-256"), EVP_PKEY_free);
  REQUIRE(key);
  std::unique_ptr<X509, decltype(&X509_free)> cert(X509_new(), X509_free);
  REQUIRE(cert);
  X509_set_version(cert.get(), 2);
  ASN1_INTEGER_set(X509_get_serialNumber(cert.get()), 1);
  X509_gmtime_adj(X509_getm_notBefore(cert.get()), 0);
  X509_gmtime_adj(X509_getm_notAfter(cert.get()), 3600);
  X509_set_pubkey(cert.get(), key.get());
  X509_NAME* name = X509_get_subject_name(cert.get());
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, reinterpret_cast<const unsigned char*>("127.0.0.1"), -1, -1, 0);
  X509_set_issuer_name(cert.get(), name);
  REQUIRE(X509_sign(cert.get(), key.get(), EVP_sha256()) > 0);
  FILE* k = std::fopen(key_path.c_str(), "w");
  REQUIRE(k);
  REQUIRE(PEM_write_PrivateKey(k, key.get(), nullptr, nullptr, 0, nullptr, nullptr) == 1);
  std::fclose(k);
  FILE* c = std::fopen(cert_path.c_str(), "w");
  REQUIRE(c);
  REQUIRE(PEM_write_X509(c, cert.get()) == 1);
  std::fclose(c);
}

struct TlsFixture {
  TlsFixture() : logger(obs::LogLevel::kInfo, "/dev/null") {
    std::string tmpl = (std::filesystem::temp_directory_path() / "consentd-tls-XXXXXX").string();
    REQUIRE(::mkdtemp(tmpl.data()) != nullptr);
    dir = tmpl;
    MakeSelfSigned(dir + "/key.pem", dir + "/cert.pem");
  }
  ~TlsFixture() {
    if (server) server->Stop();
    std::filesystem::remove_all(dir);
  }
  std::unique_ptr<HttpServer> Make(const std::string& cert, const std::string& key, Engine engine) {
    INFO("engine " << (engine == Engine::kAsio ? "asio" : "httplib"));
    ServerOptions o;
    o.host = "127.0.0.1";
    o.port = 0;
    o.engine = engine;
    o.threads = 4;
    o.tls_cert_file = cert;
    o.tls_key_file = key;
    auto s = std::make_unique<HttpServer>(
        o, [](std::string_view) -> Result<auth::Principal> { return Status::NotFound("no tokens here"); }, metrics,
        logger);
    s->Handle({Method::kGet, "/hello", "/hello", {}, 0, /*run_inline=*/true},
              [](const httplib::Request&, httplib::Response& res, const auth::Principal&) {
                ReplyJson(res, R"({"hello":"tls"})");
              });
    return s;
  }
  std::string dir;
  obs::MetricsRegistry metrics;
  obs::Logger logger;
  std::unique_ptr<HttpServer> server;
};

TEST_CASE("With a certificate and key the routes are served over HTTPS and plain HTTP gets no answer",
          "[http][tls]") {
  TlsFixture f;
  f.server = f.Make(f.dir + "/cert.pem", f.dir + "/key.pem", GENERATE(Engine::kAsio, Engine::kHttplib));
  REQUIRE(f.server->Start().ok());
  httplib::SSLClient tls("127.0.0.1", f.server->port());
  tls.enable_server_certificate_verification(false);  // self-signed for the test
  tls.set_connection_timeout(5, 0);
  httplib::Result r = tls.Get("/hello");
  REQUIRE(r);
  CHECK(r->status == 200);
  CHECK(r->body == R"({"hello":"tls"})");
  CHECK(r->has_header("X-Request-Id"));
  // The certificate is the one configured.
  httplib::Result unknown = tls.Get("/nope");
  REQUIRE(unknown);
  CHECK(unknown->status == 404);
  CHECK(unknown->get_header_value("Content-Type") == "application/problem+json");

  // Keep-alive over TLS: a second request on the same client.
  httplib::Result again = tls.Get("/hello");
  REQUIRE(again);
  CHECK(again->status == 200);

  httplib::Client plain("127.0.0.1", f.server->port());
  plain.set_connection_timeout(2, 0);
  plain.set_read_timeout(2, 0);
  httplib::Result p = plain.Get("/hello");
  CHECK((!p || p->status != 200));
  // And TLS still works after a client that did not speak it.
  httplib::Result after = tls.Get("/hello");
  REQUIRE(after);
  CHECK(after->status == 200);
}

TEST_CASE("A certificate or key that cannot be loaded fails Start with InvalidArgument", "[http][tls]") {
  TlsFixture f;
  const Engine engine = GENERATE(Engine::kAsio, Engine::kHttplib);
  f.server = f.Make(f.dir + "/missing.pem", f.dir + "/key.pem", engine);
  Status s = f.server->Start();
  CHECK(s.code() == StatusCode::kInvalidArgument);
  f.server = f.Make(f.dir + "/key.pem", f.dir + "/cert.pem", engine);  // swapped
  CHECK(f.server->Start().code() == StatusCode::kInvalidArgument);
  // A key that is not the certificate's.
  MakeSelfSigned(f.dir + "/other-key.pem", f.dir + "/other-cert.pem");
  f.server = f.Make(f.dir + "/cert.pem", f.dir + "/other-key.pem", engine);
  CHECK(f.server->Start().code() == StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace consentd::http
