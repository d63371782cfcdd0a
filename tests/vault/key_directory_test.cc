// The key directory: creation with safe modes, the file format, refusal of
// loose permissions, and the key ring across rotations.
#include <catch2/catch.hpp>
#include <stdlib.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>

#include "src/vault/key_directory.h"

namespace consentd::vault {
namespace {

struct TempDir {
  TempDir() {
    std::string tmpl = std::filesystem::temp_directory_path().string() + "/consentd-keys-XXXXXX";
    REQUIRE(::mkdtemp(tmpl.data()) != nullptr);
    path = tmpl;
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
  }
  std::string path;
};

unsigned Mode(const std::string& path) {
  struct stat st;
  REQUIRE(::stat(path.c_str(), &st) == 0);
  return st.st_mode & 07777;
}

std::string Slurp(const std::string& path) {
  std::ifstream in(path);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

TEST_CASE("The key directory is created 0700 with key files 0600 in the documented format", "[vault][keys]") {
  TempDir tmp;
  std::string dir = tmp.path + "/keys";
  Result<KeyDirectory> keys = KeyDirectory::Open(dir, /*create_if_missing=*/true);
  REQUIRE(keys.ok());
  CHECK(Mode(dir) == 0700);
  Result<KeyRing> kek = keys->LoadOrCreate(KeyDirectory::kKek);
  REQUIRE(kek.ok());
  CHECK(kek->current().id == 1);
  CHECK(Mode(dir + "/kek.key") == 0600);
  std::string text = Slurp(dir + "/kek.key");
  REQUIRE(text.size() == 2 + 64 + 1);
  CHECK(text.substr(0, 2) == "1:");
  CHECK(text.back() == '\n');
  // Loading again gives the same key; the blind-index key is a different one.
  Result<KeyRing> again = keys->Load(KeyDirectory::kKek);
  REQUIRE(again.ok());
  CHECK(again->current().bytes == kek->current().bytes);
  Result<KeyRing> bidx = keys->LoadOrCreate(KeyDirectory::kBlindIndex);
  REQUIRE(bidx.ok());
  CHECK(bidx->current().bytes != kek->current().bytes);
  CHECK(keys->Load("checkpoint").status().code() == StatusCode::kInvalidArgument);
}

TEST_CASE("Keys in files with group or other permission bits are refused", "[vault][keys]") {
  TempDir tmp;
  Result<KeyDirectory> keys = KeyDirectory::Open(tmp.path, true);
  REQUIRE(keys.ok());
  REQUIRE(keys->LoadOrCreate(KeyDirectory::kKek).ok());
  for (unsigned mode : {0640u, 0604u, 0660u, 0644u}) {
    REQUIRE(::chmod((tmp.path + "/kek.key").c_str(), mode) == 0);
    Result<KeyRing> r = keys->Load(KeyDirectory::kKek);
    REQUIRE_FALSE(r.ok());
    CHECK(r.status().code() == StatusCode::kFailedPrecondition);
    CHECK_THAT(r.status().message(), Catch::Contains("chmod 600"));
  }
  REQUIRE(::chmod((tmp.path + "/kek.key").c_str(), 0400) == 0);
  CHECK(keys->Load(KeyDirectory::kKek).ok());
}

TEST_CASE("A key directory writable by others is refused", "[vault][keys]") {
  TempDir tmp;
  REQUIRE(::chmod(tmp.path.c_str(), 0777) == 0);
  Result<KeyDirectory> keys = KeyDirectory::Open(tmp.path, false);
  REQUIRE_FALSE(keys.ok());
  CHECK(keys.status().code() == StatusCode::kFailedPrecondition);
  CHECK(KeyDirectory::Open(tmp.path + "/missing", false).status().code() == StatusCode::kNotFound);
}

TEST_CASE("Malformed key files are reported as corruption", "[vault][keys]") {
  TempDir tmp;
  Result<KeyDirectory> keys = KeyDirectory::Open(tmp.path, true);
  REQUIRE(keys.ok());
  for (const char* content : {"", "1:abcd\n", "0:" "00000000000000000000000000000000"
                                              "00000000000000000000000000000000\n",
                              "x:" "00000000000000000000000000000000" "00000000000000000000000000000000\n",
                              "1:" "zz000000000000000000000000000000" "00000000000000000000000000000000\n"}) {
    {
      std::ofstream out(tmp.path + "/blind-index.key", std::ios::trunc);
      out << content;
    }
    REQUIRE(::chmod((tmp.path + "/blind-index.key").c_str(), 0600) == 0);
    CHECK(keys->Load(KeyDirectory::kBlindIndex).status().code() == StatusCode::kCorruption);
  }
}

TEST_CASE("Adding a key keeps the previous one loadable until it is retired", "[vault][keys]") {
  TempDir tmp;
  Result<KeyDirectory> keys = KeyDirectory::Open(tmp.path, true);
  REQUIRE(keys.ok());
  Result<KeyRing> v1 = keys->LoadOrCreate(KeyDirectory::kKek);
  REQUIRE(v1.ok());
  Result<KeyRing> v2 = keys->AddKey(KeyDirectory::kKek);
  REQUIRE(v2.ok());
  CHECK(v2->current().id == 2);
  REQUIRE(v2->keys().size() == 2);
  REQUIRE(v2->Find(1) != nullptr);
  CHECK(v2->Find(1)->bytes == v1->current().bytes);
  CHECK(Mode(tmp.path + "/kek.1.key") == 0600);

  CHECK(keys->RetireKey(KeyDirectory::kKek, 2).code() == StatusCode::kFailedPrecondition);
  REQUIRE(keys->RetireKey(KeyDirectory::kKek, 1).ok());
  Result<KeyRing> after = keys->Load(KeyDirectory::kKek);
  REQUIRE(after.ok());
  CHECK(after->keys().size() == 1);
  CHECK(after->current().id == 2);
}

TEST_CASE("A current key older than a retained key is reported as a rollback", "[vault][keys]") {
  TempDir tmp;
  Result<KeyDirectory> keys = KeyDirectory::Open(tmp.path, true);
  REQUIRE(keys.ok());
  REQUIRE(keys->LoadOrCreate(KeyDirectory::kKek).ok());
  REQUIRE(keys->AddKey(KeyDirectory::kKek).ok());
  std::filesystem::copy_file(tmp.path + "/kek.key", tmp.path + "/kek.2.key");
  std::filesystem::copy_file(tmp.path + "/kek.1.key", tmp.path + "/kek.key",
                             std::filesystem::copy_options::overwrite_existing);
  REQUIRE(::chmod((tmp.path + "/kek.2.key").c_str(), 0600) == 0);
  CHECK(keys->Load(KeyDirectory::kKek).status().code() == StatusCode::kCorruption);
}

}  // namespace
}  // namespace consentd::vault
