// Config's HTTP server settings (docs/operations.md): which server runs the
// routes and with how many threads, validated like every other field.
#include "src/service/config.h"

#include <stdlib.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

namespace consentd::service {
namespace {

using nlohmann::json;

std::string WriteConfig(const std::string& dir, const json& extra) {
  json doc = {{"data_dir", dir}, {"key_dir", dir + ".keys"}, {"origin", "test.example/c"}};
  doc.merge_patch(extra);
  const std::string path = dir + "/consentd.json";
  std::ofstream(path) << doc.dump();
  return path;
}

TEST_CASE("http_server chooses asio by default or httplib, and anything else names /http_server", "[service][config]") {
  std::string tmpl = (std::filesystem::temp_directory_path() / "consentd-config-http-XXXXXX").string();
  REQUIRE(::mkdtemp(tmpl.data()) != nullptr);
  const std::string dir = tmpl;

  Result<Config> plain = Config::Load(WriteConfig(dir, json::object()));
  REQUIRE(plain.ok());
  CHECK(plain->http_server == "asio");
  CHECK(plain->http_io_threads == 0);

  Result<Config> chosen = Config::Load(WriteConfig(dir, {{"http_server", "httplib"}, {"http_io_threads", 3}}));
  REQUIRE(chosen.ok());
  CHECK(chosen->http_server == "httplib");
  CHECK(chosen->http_io_threads == 3);
  // What ToJson writes, Load reads back.
  std::ofstream(dir + "/again.json") << chosen->ToJson();
  Result<Config> again = Config::Load(dir + "/again.json");
  REQUIRE(again.ok());
  CHECK(again->http_server == "httplib");
  CHECK(again->http_io_threads == 3);

  for (const json& bad : {json{{"http_server", "nginx"}}, json{{"http_server", 1}}, json{{"http_server", ""}}}) {
    INFO(bad.dump());
    Result<Config> r = Config::Load(WriteConfig(dir, bad));
    REQUIRE_FALSE(r.ok());
    CHECK(r.status().message().find("/http_server") != std::string::npos);
  }
  for (const json& bad : {json{{"http_io_threads", -1}}, json{{"http_io_threads", 65}}, json{{"http_io_threads", "2"}}}) {
    INFO(bad.dump());
    Result<Config> r = Config::Load(WriteConfig(dir, bad));
    REQUIRE_FALSE(r.ok());
    CHECK(r.status().message().find("/http_io_threads") != std::string::npos);
  }
  std::filesystem::remove_all(dir);
}

TEST_CASE("query_cache_entries defaults to 4,000,000, reads back, and refuses bad values", "[service][config]") {
  std::string tmpl = (std::filesystem::temp_directory_path() / "consentd-config-qc-XXXXXX").string();
  REQUIRE(::mkdtemp(tmpl.data()) != nullptr);
  const std::string dir = tmpl;
  Result<Config> plain = Config::Load(WriteConfig(dir, json::object()));
  REQUIRE(plain.ok());
  CHECK(plain->query_cache_entries == 4'000'000);
  for (size_t n : {size_t{0}, size_t{1}, size_t{123456}}) {
    Result<Config> c = Config::Load(WriteConfig(dir, {{"query_cache_entries", n}}));
    REQUIRE(c.ok());
    CHECK(c->query_cache_entries == n);
    std::ofstream(dir + "/again.json") << c->ToJson();
    Result<Config> again = Config::Load(dir + "/again.json");
    REQUIRE(again.ok());
    CHECK(again->query_cache_entries == n);
  }
  for (const json& bad : {json{{"query_cache_entries", -1}}, json{{"query_cache_entries", "10"}},
                          json{{"query_cache_entries", 1.5}}, json{{"query_cache_entries", 2'000'000'000}}}) {
    INFO(bad.dump());
    Result<Config> r = Config::Load(WriteConfig(dir, bad));
    REQUIRE_FALSE(r.ok());
    CHECK(r.status().message().find("/query_cache_entries") != std::string::npos);
  }
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace consentd::service
