// The ledger_checkpoints.root column duplicates the root in the signed note;
// the verifier checks that they are equal (docs/ledger-format.md §8).
#include <sqlite3.h>

#include <catch2/catch.hpp>
#include <string>

#include "ledger/ledger.h"
#include "ledger/note.h"
#include "ledger/verifier.h"
#include "tests/ledger/test_util.h"

namespace consentd::ledger {
namespace {

using consentd::testing::TempDir;

void FlipRootByte(const std::string& path, uint64_t size) {
  sqlite3* db = nullptr;
  REQUIRE(sqlite3_open(path.c_str(), &db) == SQLITE_OK);
  std::string sql = "UPDATE ledger_checkpoints SET root = substr(root, 1, 4) || CAST(x'ff' AS BLOB) || substr(root, 6)"
                    " WHERE size = " + std::to_string(size);
  char* err = nullptr;
  int rc = sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &err);
  INFO((err ? err : ""));
  sqlite3_free(err);
  sqlite3_close(db);
  REQUIRE(rc == SQLITE_OK);
}

TEST_CASE("a flipped checkpoint root column fails verification and names the checkpoint", "[ledger][tamper]") {
  TempDir dir;
  const std::string path = (dir / "l.db").string();
  Result<Signer> signer = Signer::Generate("test.example/root-column");
  REQUIRE(signer.ok());
  LedgerOptions o;
  o.path = path;
  o.create_if_missing = true;
  o.origin = "test.example/root-column";
  o.signer = &*signer;
  {
    Result<std::unique_ptr<Ledger>> l = Ledger::Open(o);
    REQUIRE(l.ok());
    std::vector<NewEntry> entries(5, NewEntry{"test.root", "{}"});
    REQUIRE((*l)->Append(entries).ok());
    REQUIRE((*l)->SignCheckpoint().ok());
    VerifyOptions vo;
    vo.keys.push_back(signer->verifier_key());
    REQUIRE(VerifyLedger(**l, vo).ok);
  }
  FlipRootByte(path, 5);
  Result<std::unique_ptr<Ledger>> l = Ledger::Open(o);
  REQUIRE(l.ok());
  VerifyOptions vo;
  vo.keys.push_back(signer->verifier_key());
  VerifyReport r = VerifyLedger(**l, vo);
  INFO(r.Summary());
  CHECK_FALSE(r.ok);
  CHECK(r.problem.find("root column does not match its signed note") != std::string::npos);
  REQUIRE(r.bad_checkpoint.has_value());
  CHECK(*r.bad_checkpoint == 5);
}

}  // namespace
}  // namespace consentd::ledger
