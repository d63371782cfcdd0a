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

}  // namespace
}  // namespace consentd::service
