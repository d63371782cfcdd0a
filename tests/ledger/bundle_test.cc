// Tests of ledger/bundle: c2sp.org/tlog-proof receipts carrying the entry in
// the extra line, verified offline against the log key and witness keys.
#include <catch2/catch.hpp>
#include <string>
#include <vector>

#include "ledger/bundle.h"
#include "ledger/ledger.h"
#include "ledger/merkle.h"
#include "ledger/note.h"
#include "src/base/bytes.h"
#include "tests/ledger/test_util.h"

namespace consentd::ledger {
namespace {

using consentd::testing::HashesFromJson;
using consentd::testing::MerkleVectors;
using consentd::testing::TempDir;

VerifierKey Key(const std::string& vkey) {
  Result<VerifierKey> k = ParseVerifierKey(vkey);
  REQUIRE(k.ok());
  return *k;
}

// Bundle for leaf "b" (index 1) of the known-answer "abc" tree under the
// worked checkpoint example (log signature and one witness cosignature).
ProofBundle AbcBundle() {
  const nlohmann::json& v = MerkleVectors();
  ProofBundle b;
  b.has_entry = true;
  b.entry = "b";
  b.index = 1;
  for (const auto& p : v["abc"]["inclusion"]) {
    if (p["index"] == 1 && p["tree_size"] == 3) b.proof = HashesFromJson(p["path"]);
  }
  b.checkpoint_note = v["checkpoint_example"]["signed_checkpoint"].get<std::string>();
  return b;
}

BundleVerifyOptions AbcOptions() {
  const nlohmann::json& v = MerkleVectors();
  BundleVerifyOptions o;
  o.log_key = Key(v["checkpoint_example"]["log"]["vkey"].get<std::string>());
  o.witness_keys.push_back(Key(v["checkpoint_example"]["witness"]["vkey"].get<std::string>()));
  o.require_ledger_entry = false;
  return o;
}

TEST_CASE("a bundle for the known-answer tree verifies with the log key and the witness cosignature", "[bundle]") {
  ProofBundle b = AbcBundle();
  REQUIRE(b.proof.size() == 2);
  std::string text = b.Format();
  CHECK(text.rfind("c2sp.org/tlog-proof@v1\nextra Yg==\nindex 1\n", 0) == 0);
  Result<ProofBundle> parsed = ParseProofBundle(text);
  REQUIRE(parsed.ok());
  CHECK(parsed->Format() == text);
  BundleVerifyOptions o = AbcOptions();
  o.min_cosignatures = 1;
  BundleReport r = VerifyProofBundle(text, o);
  INFO(r.Summary());
  REQUIRE(r.ok);
  CHECK(r.cosigners == std::vector<std::string>{"witness.example.com/w1"});
  CHECK(r.Summary() ==
        "OK: entry 1 is in the tree of size 3 (root NmQuc8JUCrEh46a/lUWwokmCzYMOsT080Z3jzmwCHsE=) signed by "
        "example.com/consent-ledger; 1 witness cosignature (witness.example.com/w1)");
}

TEST_CASE("a bundle fails when its entry, index, proof or checkpoint was changed", "[bundle]") {
  BundleVerifyOptions o = AbcOptions();
  {
    ProofBundle b = AbcBundle();
    b.entry = "c";
    CHECK_FALSE(VerifyProofBundle(b.Format(), o).ok);
  }
  {
    ProofBundle b = AbcBundle();
    b.index = 0;
    CHECK_FALSE(VerifyProofBundle(b.Format(), o).ok);
  }
  {
    ProofBundle b = AbcBundle();
    b.index = 3;
    BundleReport r = VerifyProofBundle(b.Format(), o);
    CHECK_FALSE(r.ok);
  }
  {
    ProofBundle b = AbcBundle();
    b.proof[0][0] ^= 1;
    CHECK_FALSE(VerifyProofBundle(b.Format(), o).ok);
    b = AbcBundle();
    b.proof.pop_back();
    CHECK_FALSE(VerifyProofBundle(b.Format(), o).ok);
  }
  {
    ProofBundle b = AbcBundle();
    b.has_entry = false;
    BundleReport r = VerifyProofBundle(b.Format(), o);
    CHECK_FALSE(r.ok);
    CHECK(r.problem.find("does not carry the entry") != std::string::npos);
  }
  {
    // Forged checkpoint: a different size under the same signature.
    ProofBundle b = AbcBundle();
    b.checkpoint_note.replace(b.checkpoint_note.find("\n3\n"), 3, "\n4\n");
    BundleReport r = VerifyProofBundle(b.Format(), o);
    CHECK_FALSE(r.ok);
    CHECK(r.problem.find("does not verify") != std::string::npos);
  }
  {
    // Another log's key: no known signature.
    Result<Signer> other = Signer::Generate("example.com/consent-ledger");
    REQUIRE(other.ok());
    BundleVerifyOptions wrong = o;
    wrong.log_key = other->verifier_key();
    CHECK_FALSE(VerifyProofBundle(AbcBundle().Format(), wrong).ok);
  }
  {
    // Too few cosignatures for the policy.
    BundleVerifyOptions strict = o;
    strict.min_cosignatures = 2;
    BundleReport r = VerifyProofBundle(AbcBundle().Format(), strict);
    CHECK_FALSE(r.ok);
    CHECK(r.problem == "1 witness cosignatures verified, 2 required");
  }
}

TEST_CASE("malformed bundles are rejected with the offending line", "[bundle]") {
  std::string good = AbcBundle().Format();
  CHECK(ParseProofBundle(good).ok());
  auto replace = [&](const std::string& from, const std::string& to) {
    std::string t = good;
    t.replace(t.find(from), from.size(), to);
    return t;
  };
  for (const std::string& bad : {
           replace("c2sp.org/tlog-proof@v1", "c2sp.org/tlog-proof@v2"),
           replace("index 1", "index 01"),
           replace("index 1", "index -1"),
           replace("index 1", "index 18446744073709551616"),
           replace("index 1", "idx 1"),
           replace("extra Yg==", "extra Yg"),
           replace("extra Yg==", "extra Yh=="),
           replace("index 1\n", "index 1\nnot-base64\n"),
           replace("index 1\n", "index 1\nYg==\n"),
           replace("index 1\n", "index 1\r\n"),
           good.substr(0, good.find("\n\n") + 1),
           std::string("c2sp.org/tlog-proof@v1\n"),
           std::string(),
           good + std::string(1 << 20, 'x'),
       }) {
    INFO(bad.substr(0, 120));
    CHECK_FALSE(ParseProofBundle(bad).ok());
    CHECK_FALSE(VerifyProofBundle(bad, AbcOptions()).ok);
  }
  // More than 64 proof lines.
  ProofBundle b = AbcBundle();
  b.proof.resize(65, b.proof[0]);
  CHECK_FALSE(ParseProofBundle(b.Format()).ok());
}

TEST_CASE("a bundle built from the ledger verifies and requires a ledger entry whose seq is the index", "[bundle]") {
  TempDir dir;
  Result<Signer> signer = Signer::Generate("test.example/bundles");
  REQUIRE(signer.ok());
  LedgerOptions lo;
  lo.path = (dir / "l.db").string();
  lo.create_if_missing = true;
  lo.origin = "test.example/bundles";
  lo.signer = &*signer;
  Result<std::unique_ptr<Ledger>> l = Ledger::Open(lo);
  REQUIRE(l.ok());
  std::vector<NewEntry> entries(10, NewEntry{"test.bundle", "{\"x\":1}"});
  REQUIRE((*l)->Append(entries).ok());
  Result<StoredCheckpoint> cp = (*l)->SignCheckpoint();
  REQUIRE(cp.ok());
  ProofBundle b;
  b.has_entry = true;
  b.index = 6;
  b.entry = *(*l)->ReadEntry(6);
  b.proof = *(*l)->InclusionProof(6, 10);
  b.checkpoint_note = cp->signed_note;
  BundleVerifyOptions o;
  o.log_key = signer->verifier_key();
  BundleReport r = VerifyProofBundle(b.Format(), o);
  INFO(r.Summary());
  CHECK(r.ok);
  // The proof of entry 6 with entry 5's bytes: seq mismatch is named.
  ProofBundle swapped = b;
  swapped.entry = *(*l)->ReadEntry(5);
  r = VerifyProofBundle(swapped.Format(), o);
  CHECK_FALSE(r.ok);
  CHECK(r.problem == "entry holds seq 5 but the bundle is for index 6");
}

}  // namespace
}  // namespace consentd::ledger
