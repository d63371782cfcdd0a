#include "tests/identity/test_env.h"

#include <sqlite3.h>

#include <catch2/catch.hpp>
#include <stdlib.h>
#include <sys/stat.h>

#include <filesystem>

namespace consentd::identity::testing {

TestEnv::TestEnv(domain::IdentityRules r) : rules(std::move(r)) {
  std::string tmpl = std::filesystem::temp_directory_path().string() + "/consentd-identity-XXXXXX";
  REQUIRE(::mkdtemp(tmpl.data()) != nullptr);
  root_ = tmpl;
  data_dir_ = root_ + "/data";
  key_dir_ = root_ + "/keys";
  REQUIRE(::mkdir(data_dir_.c_str(), 0700) == 0);
  Result<vault::KeyDirectory> keys = vault::KeyDirectory::Open(key_dir_, true);
  REQUIRE(keys.ok());
  keys_ = std::make_unique<vault::KeyDirectory>(std::move(*keys));
  Reopen();
}

TestEnv::~TestEnv() {
  Close();
  std::error_code ec;
  std::filesystem::remove_all(root_, ec);
}

void TestEnv::Reopen() {
  registry_.reset();
  if (ledger_ == nullptr) {
    ledger::LedgerOptions options;
    options.path = db_path();
    options.create_if_missing = true;
    options.origin = "example.com/identity-test";
    options.clock = &clock_;
    Result<std::unique_ptr<ledger::Ledger>> ledger = ledger::Ledger::Open(options);
    if (!ledger.ok()) FAIL(ledger.status().ToString());
    ledger_ = std::move(*ledger);
    writer_ = std::make_unique<vault::LedgerAppender>(*ledger_);
  }
  Result<std::unique_ptr<SubjectRegistry>> registry =
      SubjectRegistry::Open(db_path(), *writer_, *keys_, rules, &clock_);
  if (!registry.ok()) FAIL(registry.status().ToString());
  registry_ = std::move(*registry);
}

void TestEnv::Close() {
  registry_.reset();
  writer_.reset();
  ledger_.reset();
}

domain::Identifier Email(std::string value) {
  return domain::Identifier{domain::IdentifierKind::Email(), std::move(value), ""};
}
domain::Identifier Phone(std::string value) {
  return domain::Identifier{domain::IdentifierKind::Phone(), std::move(value), ""};
}
domain::Identifier System(domain::IdentifierType type, std::string value, std::string qualifier) {
  return domain::Identifier{domain::IdentifierKind(type), std::move(value), std::move(qualifier)};
}

int64_t ScalarOnFile(const std::string& path, const std::string& sql) {
  sqlite3* db = nullptr;
  REQUIRE(sqlite3_open(path.c_str(), &db) == SQLITE_OK);
  sqlite3_stmt* q = nullptr;
  REQUIRE(sqlite3_prepare_v2(db, sql.c_str(), -1, &q, nullptr) == SQLITE_OK);
  REQUIRE(sqlite3_step(q) == SQLITE_ROW);
  const int64_t n = sqlite3_column_int64(q, 0);
  sqlite3_finalize(q);
  sqlite3_close(db);
  return n;
}

}  // namespace consentd::identity::testing
