// The rebuild check recomputes request states and the tombstone count from
// the ledger and names every table row that disagrees.
#include <catch2/catch.hpp>

#include <algorithm>

#include "src/erasure/rebuild_check.h"
#include "src/vault/sqlite_database.h"
#include "tests/erasure/erasure_env.h"

namespace consentd::erasure {
namespace {

using testing::ErasureEnv;

ErasureCheck Check(ErasureEnv& env) {
  Result<std::unique_ptr<vault::Database>> db = vault::Database::Open(env.db_path());
  REQUIRE(db.ok());
  auto lock = (*db)->Lock();
  Result<ErasureCheck> c = CheckErasureTables((*db)->handle());
  REQUIRE(c.ok());
  return *c;
}

void Exec(ErasureEnv& env, const std::string& sql) {
  Result<std::unique_ptr<vault::Database>> db = vault::Database::Open(env.db_path());
  REQUIRE(db.ok());
  auto lock = (*db)->Lock();
  REQUIRE(vault::Exec((*db)->handle(), sql).ok());
}

TEST_CASE("The erasure tables match the ledger's replay, and tampering is named by request and field",
          "[erasure][rebuild]") {
  ErasureEnv env;
  const std::string done = env.FileVerified("rb1@example.com");
  env.ConfirmAll(done);
  REQUIRE(env.erasure().ProcessReady().ok());
  const std::string open = env.FileVerified("rb2@example.com");
  REQUIRE(env.erasure().Extend(open, "complexity").ok());
  ErasureCheck c = Check(env);
  for (const std::string& d : c.differences) UNSCOPED_INFO(d);
  CHECK(c.differences.empty());
  CHECK(c.requests_ledger == 2);
  CHECK(c.requests_table == 2);
  CHECK(c.tombstones_ledger == 1);
  CHECK(c.tombstones_table == 1);

  Exec(env, "UPDATE erasure_requests SET state = 'propagating', shredded_ms = 0 WHERE id = '" + done + "'");
  Exec(env, "UPDATE erasure_requests SET extended = 0 WHERE id = '" + open + "'");
  Exec(env, "DELETE FROM tombstones");
  c = Check(env);
  std::sort(c.differences.begin(), c.differences.end());
  std::vector<std::string> want = {
      "request " + done + ": shredded: ledger true, table false",
      "request " + done + ": state: ledger completed, table propagating",
      "request " + open + ": extended: ledger true, table false",
      "tombstones: ledger 1, table 0",
  };
  std::sort(want.begin(), want.end());
  CHECK(c.differences == want);
}

}  // namespace
}  // namespace consentd::erasure
