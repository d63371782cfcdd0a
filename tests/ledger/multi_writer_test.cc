// Two processes appending to one ledger file (consentctl beside a running
// consentd) must never fork the chain: each group commit re-reads the head
// inside its write transaction (ledger/ledger.cc, CheckHeadUnchanged).
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <set>
#include <string>

#include "ledger/ledger.h"
#include "ledger/verifier.h"
#include "tests/ledger/test_util.h"

namespace consentd::ledger {
namespace {

constexpr int kPerProcess = 60;

// Appends kPerProcess entries tagged with `writer` from a long-lived Ledger,
// so that the other process's appends happen between ours.
int AppendInChild(const std::string& path, int writer) {
  LedgerOptions o;
  o.path = path;
  Result<std::unique_ptr<Ledger>> l = Ledger::Open(o);
  if (!l.ok()) return 10;
  for (int i = 0; i < kPerProcess; ++i) {
    std::string payload = "{\"writer\":" + std::to_string(writer) + ",\"i\":" + std::to_string(i) + "}";
    if (!(*l)->Append({{"test.multi", payload}}).ok()) return 11;
  }
  return 0;
}

TEST_CASE("Appends from two processes interleave into one valid chain with every entry present",
          "[ledger][multiprocess]") {
  testing::TempDir dir;
  const std::string path = (dir / "ledger.db").string();
  Result<Signer> signer = Signer::FromSeed("test.example/multi", std::string(32, '\x07'));
  REQUIRE(signer.ok());
  {
    LedgerOptions o;
    o.path = path;
    o.create_if_missing = true;
    o.origin = "test.example/multi";
    REQUIRE(Ledger::Open(o).ok());
  }
  pid_t children[2];
  for (int w = 0; w < 2; ++w) {
    children[w] = ::fork();
    REQUIRE(children[w] >= 0);
    if (children[w] == 0) ::_exit(AppendInChild(path, w));
  }
  for (pid_t c : children) {
    int status = 0;
    REQUIRE(::waitpid(c, &status, 0) == c);
    REQUIRE(WIFEXITED(status));
    CHECK(WEXITSTATUS(status) == 0);
  }
  LedgerOptions o;
  o.path = path;
  o.signer = &*signer;
  Result<std::unique_ptr<Ledger>> l = Ledger::Open(o);
  REQUIRE(l.ok());
  REQUIRE((*l)->Size() == 2 * kPerProcess);
  REQUIRE((*l)->SignCheckpoint().ok());
  VerifyOptions vo;
  vo.keys.push_back(signer->verifier_key());
  VerifyReport report = VerifyLedger(**l, vo);
  INFO(report.Summary());
  CHECK(report.ok);
  std::set<std::string> payloads;
  REQUIRE((*l)->ScanEntries(0, (*l)->Size(), [&](uint64_t, std::string_view e) {
    payloads.insert(std::string(e.substr(e.find("\"payload\":"))));
    return Status::Ok();
  }).ok());
  CHECK(payloads.size() == 2 * kPerProcess);
}

}  // namespace
}  // namespace consentd::ledger
