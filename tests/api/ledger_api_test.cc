// The auditors' ledger API against the real consentd binary: the published
// checkpoint, C2SP tiles that a tiles-only client turns into the same root
// and proofs, entries, proofs, receipts that verify offline with consentctl,
// witness cosignatures from test_witness, and `consentctl ledger watch`
// detecting a fork and a rollback between two data directories that diverge
// from a common prefix.
#include <catch2/catch.hpp>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "ledger/checkpoint.h"
#include "ledger/merkle.h"
#include "ledger/note.h"
#include "ledger/tiles.h"
#include "src/base/bytes.h"
#include "tests/api/service_harness.h"
#include "tests/witness/witness_process.h"

namespace consentd::testing {
namespace {

using nlohmann::json;
namespace fs = std::filesystem;

std::string VerifierKey(const ServiceHarness& h) {
  CommandResult r = Consentctl({"ledger", "verifier-key", "--data-dir", h.data_dir()});
  REQUIRE(r.exit_code == 0);
  std::string k = r.out;
  while (!k.empty() && k.back() == '\n') k.pop_back();
  return k;
}

void Append(const ServiceHarness& h, int count, const std::string& kind) {
  CommandResult r = Consentctl({"ledger", "append", "--data-dir", h.data_dir(), "--kind", kind, "--payload",
                                "{\"n\":1}", "--count", std::to_string(count)});
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
}

// Polls /ledger/checkpoint until it covers the whole ledger, which holds at
// least `size` entries (token changes are ledger entries too); returns the note.
std::string WaitForCheckpoint(const ServiceHarness& h, const std::string& token, uint64_t min_size) {
  auto c = h.Client();
  const long long ledger_size = h.LedgerSize();
  REQUIRE(ledger_size >= static_cast<long long>(min_size));
  const uint64_t size = static_cast<uint64_t>(ledger_size);
  for (int i = 0; i < 200; ++i) {
    auto r = token.empty() ? c->Get("/ledger/checkpoint") : c->Get("/ledger/checkpoint", Bearer(token));
    if (r && r->status == 200) {
      Result<ledger::Note> n = ledger::ParseNote(r->body);
      if (n.ok()) {
        Result<ledger::Checkpoint> cp = ledger::ParseCheckpointBody(n->text);
        if (cp.ok() && cp->size == size) return r->body;
      }
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  FAIL("no checkpoint of size " << size);
  return "";
}

ledger::Checkpoint CheckpointOf(const std::string& note) {
  Result<ledger::Note> n = ledger::ParseNote(note);
  REQUIRE(n.ok());
  Result<ledger::Checkpoint> cp = ledger::ParseCheckpointBody(n->text);
  REQUIRE(cp.ok());
  return *cp;
}

void ExpectProblem(httplib::Result& r, int status, const std::string& field) {
  REQUIRE(r);
  INFO(r->body);
  CHECK(r->status == status);
  CHECK(r->get_header_value("Content-Type") == "application/problem+json");
  if (!field.empty()) CHECK(ParseJson(r->body)["field"] == field);
}

TEST_CASE("the ledger API serves a checkpoint, tiles, entries, proofs and receipts that verify", "[ledger_api]") {
  HarnessOptions o;
  o.config_overrides = {{"checkpoint_interval_ms", 50}};
  auto h = ServiceHarness::Create(o);
  const std::string auditor = h->CreateToken("auditor", "auditor");
  const std::string officer = h->CreateToken("officer", "officer");
  const std::string vkey_text = VerifierKey(*h);
  Append(*h, 300, "test.audit");
  REQUIRE(h->Start());
  const std::string note = WaitForCheckpoint(*h, auditor, 300);
  const ledger::Checkpoint cp = CheckpointOf(note);
  const uint64_t n = cp.size;  // 300 entries and the token entries
  const std::string N = std::to_string(n);
  Result<ledger::VerifierKey> vkey = ledger::ParseVerifierKey(vkey_text);
  REQUIRE(vkey.ok());
  CHECK(ledger::VerifyNote(*ledger::ParseNote(note), {*vkey}).ok());
  auto c = h->Client();

  SECTION("scopes: no token is 401, another scope is 403") {
    auto r = c->Get("/ledger/checkpoint");
    ExpectProblem(r, 401, "");
    r = c->Get("/ledger/tile/0/000", Bearer(officer));
    ExpectProblem(r, 403, "");
    r = c->Get("/v1/ledger/verifier-key", Bearer(auditor));
    REQUIRE(r);
    CHECK(ParseJson(r->body)["verifier_key"] == vkey_text);
  }

  SECTION("a tiles-only client computes the checkpoint's root, proofs and entries") {
    ledger::TileReader reader(cp.size, [&](const std::string& path) -> Result<std::string> {
      auto r = c->Get(("/ledger/" + path).c_str(), Bearer(auditor));
      if (!r || r->status != 200) return Status::NotFound(path);
      return r->body;
    });
    Result<Hash> root = reader.Root();
    REQUIRE(root.ok());
    CHECK(*root == cp.root);
    for (uint64_t i : {uint64_t{0}, uint64_t{255}, uint64_t{256}, n - 1}) {
      Result<std::string> entry = reader.Entry(i);
      REQUIRE(entry.ok());
      Result<std::vector<Hash>> proof = reader.InclusionProof(i);
      REQUIRE(proof.ok());
      CHECK(ledger::VerifyInclusion(i, cp.size, ledger::LeafHash(AsBytes(*entry)), *proof, cp.root).ok());
    }
    auto full = c->Get("/ledger/tile/0/000", Bearer(auditor));
    REQUIRE(full);
    CHECK(full->body.size() == 8192);
    CHECK(full->get_header_value("Cache-Control") == "public, max-age=31536000, immutable");
    CHECK(full->get_header_value("Content-Type") == "application/octet-stream");
    auto partial = c->Get(("/ledger/tile/0/001.p/" + std::to_string(n - 256)).c_str(), Bearer(auditor));
    REQUIRE(partial);
    CHECK(partial->status == 200);
    CHECK(partial->get_header_value("Cache-Control") == "public, max-age=5");
  }

  SECTION("tiles beyond the published checkpoint are 404 and malformed tile paths 400") {
    for (const std::string& p : {std::string("/ledger/tile/0/001"), "/ledger/tile/0/001.p/" + std::to_string(n - 255),
                                 std::string("/ledger/tile/1/000"), std::string("/ledger/tile/entries/001"),
                                 std::string("/ledger/tile/2/000.p/1")}) {
      INFO(p);
      auto r = c->Get(p.c_str(), Bearer(auditor));
      ExpectProblem(r, 404, "");
    }
    for (const char* p : {"/ledger/tile/0/1", "/ledger/tile/00/000", "/ledger/tile/0/000.p/0", "/ledger/tile/x/000",
                          "/ledger/tile/0/x000/000", "/ledger/tile/64/000"}) {
      INFO(p);
      auto r = c->Get(p, Bearer(auditor));
      ExpectProblem(r, 400, "/tile");
    }
  }

  SECTION("entries are the exact bytes, and bad ranges are 400 naming the parameter") {
    auto r = c->Get("/v1/ledger/entries?start=255&end=257", Bearer(auditor));
    REQUIRE(r);
    REQUIRE(r->status == 200);
    json j = ParseJson(r->body);
    REQUIRE(j["entries"].size() == 2);
    std::string e = *Base64Decode(j["entries"][1].get<std::string>());
    CHECK(e.rfind("{\"v\":1,\"seq\":256,", 0) == 0);
    CHECK(j["tree_size"] == n);
    const std::vector<std::pair<std::string, std::string>> bad = {
        {"/v1/ledger/entries", "/start"},
        {"/v1/ledger/entries?start=abc", "/start"},
        {"/v1/ledger/entries?start=01", "/start"},
        {"/v1/ledger/entries?start=-1", "/start"},
        {"/v1/ledger/entries?start=" + N, "/start"},
        {"/v1/ledger/entries?start=0&end=" + std::to_string(n + 1), "/end"},
        {"/v1/ledger/entries?start=5&end=5", "/end"},
        {"/v1/ledger/entries?start=0&end=99999999999999999999", "/end"},
        {"/v1/ledger/proofs/inclusion", "/index"},
        {"/v1/ledger/proofs/inclusion?index=" + N, "/index"},
        {"/v1/ledger/proofs/inclusion?index=1&size=" + std::to_string(n - 1), "/size"},
        {"/v1/ledger/proofs/inclusion?index=1&size=" + std::to_string(n + 1), "/size"},
        {"/v1/ledger/proofs/consistency?from=0", "/from"},
        {"/v1/ledger/proofs/consistency?from=7", "/from"},
        {"/v1/ledger/proofs/consistency?from=" + N + "&to=200", "/from"},
        {"/v1/ledger/proofs/consistency?from=1&to=1000", "/to"},
        {"/v1/ledger/proofs/consistency", "/from"},
    };
    for (const auto& [path, field] : bad) {
      INFO(path);
      auto b = c->Get(path.c_str(), Bearer(auditor));
      ExpectProblem(b, 400, field);
    }
  }

  SECTION("inclusion and consistency proofs verify against the signed checkpoints") {
    auto r = c->Get("/v1/ledger/proofs/inclusion?index=17", Bearer(auditor));
    REQUIRE(r);
    REQUIRE(r->status == 200);
    json j = ParseJson(r->body);
    CHECK(j["size"] == n);
    CHECK(j["checkpoint"] == note);
    std::vector<Hash> proof;
    for (const auto& p : j["proof"]) {
      std::string raw = *Base64Decode(p.get<std::string>());
      Hash hh;
      std::copy(raw.begin(), raw.end(), reinterpret_cast<char*>(hh.data()));
      proof.push_back(hh);
    }
    Hash leaf;
    std::string raw_leaf = *Base64Decode(j["leaf_hash"].get<std::string>());
    std::copy(raw_leaf.begin(), raw_leaf.end(), reinterpret_cast<char*>(leaf.data()));
    CHECK(ledger::VerifyInclusion(17, n, leaf, proof, cp.root).ok());
    // Consistency from the published size to itself is the empty proof.
    auto same = c->Get(("/v1/ledger/proofs/consistency?from=" + N).c_str(), Bearer(auditor));
    REQUIRE(same);
    CHECK(same->status == 200);
    CHECK(ParseJson(same->body)["proof"].empty());
  }

  SECTION("a receipt from the API verifies offline, and a tampered one does not") {
    auto r = c->Get("/v1/ledger/bundles/42", Bearer(auditor));
    REQUIRE(r);
    REQUIRE(r->status == 200);
    CHECK(r->body.rfind("c2sp.org/tlog-proof@v1\nextra ", 0) == 0);
    TempDir tmp;
    const std::string file = tmp.path() + "/entry-42.tlog-proof";
    { std::ofstream(file) << r->body; }
    CommandResult ok = Consentctl({"ledger", "verify-bundle", file, "--verifier-key", vkey_text});
    INFO(ok.out << ok.err);
    CHECK(ok.exit_code == 0);
    CHECK(ok.out.rfind("OK: entry 42 is in the tree of size " + N, 0) == 0);
    std::string tampered = r->body;
    tampered.replace(tampered.find("index 42"), 8, "index 43");
    { std::ofstream(file) << tampered; }
    CommandResult bad = Consentctl({"ledger", "verify-bundle", file, "--verifier-key", vkey_text});
    CHECK(bad.exit_code == 1);
    CHECK(bad.out.rfind("FAIL: ", 0) == 0);
    CommandResult no_key = Consentctl({"ledger", "verify-bundle", file, "--verifier-key", "not-a-key+"});
    CHECK(no_key.exit_code == 2);
    auto beyond = c->Get(("/v1/ledger/bundles/" + N).c_str(), Bearer(auditor));
    ExpectProblem(beyond, 404, "");
    auto leading = c->Get("/v1/ledger/bundles/042", Bearer(auditor));
    ExpectProblem(leading, 400, "/index");
  }
}

TEST_CASE("consentctl ledger bundle writes a receipt that verify-bundle accepts", "[ledger_api]") {
  auto h = ServiceHarness::Create();
  Append(*h, 9, "test.receipt");
  REQUIRE(Consentctl({"ledger", "checkpoint", "--data-dir", h->data_dir()}).exit_code == 0);
  TempDir tmp;
  const std::string file = tmp.path() + "/r.tlog-proof";
  CommandResult b = Consentctl({"ledger", "bundle", "--data-dir", h->data_dir(), "--index", "8", "--out", file});
  INFO(b.err);
  REQUIRE(b.exit_code == 0);
  CommandResult v = Consentctl({"ledger", "verify-bundle", file, "--verifier-key", VerifierKey(*h)});
  CHECK(v.exit_code == 0);
  CommandResult beyond = Consentctl({"ledger", "bundle", "--data-dir", h->data_dir(), "--index", "9"});
  CHECK(beyond.exit_code == 2);
  CommandResult missing = Consentctl({"ledger", "verify-bundle", tmp.path() + "/none", "--verifier-key", VerifierKey(*h)});
  CHECK(missing.exit_code == 3);
}

TEST_CASE("with ledger_public the ledger API answers without a token", "[ledger_api]") {
  HarnessOptions o;
  o.config_overrides = {{"ledger_public", true}, {"checkpoint_interval_ms", 50}};
  auto h = ServiceHarness::Create(o);
  Append(*h, 3, "test.public");
  REQUIRE(h->Start());
  auto c = h->Client();
  WaitForCheckpoint(*h, "", 3);
  auto r = c->Get("/ledger/tile/0/000.p/3");
  REQUIRE(r);
  CHECK(r->status == 200);
  CHECK(r->body.size() == 96);
}

TEST_CASE("a witness cosigns consentd's checkpoints and /ledger/checkpoint carries the cosignature",
          "[ledger_api][witness]") {
  HarnessOptions o;
  TempDir wdir;
  // The witness must know the log key before consentd starts, and consentd
  // the witness key: create the data directory, then the witness, then write
  // the witness into the config.
  auto h = ServiceHarness::Create(o);
  const std::string vkey = VerifierKey(*h);
  auto w = WitnessProcess::Start(TEST_WITNESS_PATH, vkey, "witness.test", wdir.path() + "/w.state");
  REQUIRE(w);
  {
    std::ifstream in(h->config_path());
    json cfg = json::parse(in);
    cfg["witnesses"] = json::array({{{"name", "witness.test"}, {"url", w->url()}, {"vkey", w->vkey()}}});
    cfg["witness_quorum"] = 1;
    cfg["checkpoint_interval_ms"] = 50;
    std::ofstream(h->config_path()) << cfg.dump(2);
  }
  const std::string auditor = h->CreateToken("auditor", "auditor");
  Append(*h, 4, "test.witnessed");
  REQUIRE(h->Start());
  const std::string note = WaitForCheckpoint(*h, auditor, 4);
  Result<ledger::VerifierKey> log_key = ledger::ParseVerifierKey(vkey);
  Result<ledger::VerifierKey> w_key = ledger::ParseVerifierKey(w->vkey());
  REQUIRE(log_key.ok());
  REQUIRE(w_key.ok());
  Result<std::vector<std::string>> names = ledger::VerifyNote(*ledger::ParseNote(note), {*log_key, *w_key});
  REQUIRE(names.ok());
  CHECK(names->size() == 2);
  CHECK(w->Size() == static_cast<long long>(CheckpointOf(note).size));
  // The receipt carries the cosignature; verify-bundle can require it.
  auto r = h->Client()->Get("/v1/ledger/bundles/3", Bearer(auditor));
  REQUIRE(r);
  REQUIRE(r->status == 200);
  TempDir tmp;
  const std::string file = tmp.path() + "/w.tlog-proof";
  { std::ofstream(file) << r->body; }
  CommandResult v = Consentctl({"ledger", "verify-bundle", file, "--verifier-key", vkey, "--witness-key", w->vkey(),
                                "--min-cosignatures", "1"});
  INFO(v.out << v.err);
  CHECK(v.exit_code == 0);
  CHECK(v.out.find("1 witness cosignature (witness.test)") != std::string::npos);
}

std::string ReadFileForTest(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Replaces the data directory's contents with those of `from`.
void RestoreDir(const std::string& from, const std::string& to) {
  for (const auto& e : fs::directory_iterator(to)) fs::remove_all(e.path());
  fs::copy(from, to, fs::copy_options::recursive);
}

TEST_CASE("consentctl ledger watch follows a log and alarms on a fork and on a rollback", "[ledger_api][watch]") {
  HarnessOptions o;
  o.config_overrides = {{"checkpoint_interval_ms", 50}, {"ledger_public", true}};
  auto h = ServiceHarness::Create(o);
  const std::string vkey = VerifierKey(*h);
  TempDir tmp;
  const std::string state = tmp.path() + "/watch.state";
  const std::string prefix = tmp.path() + "/prefix";
  auto watch = [&](const std::string& state_file) {
    return Consentctl({"ledger", "watch", "--url", "http://127.0.0.1:" + std::to_string(h->port()), "--verifier-key",
                       vkey, "--state", state_file, "--once"});
  };
  // Common prefix: 5 entries.
  Append(*h, 5, "test.prefix");
  REQUIRE(h->Start());
  WaitForCheckpoint(*h, "", 5);
  CommandResult first = watch(state);
  INFO(first.out << first.err);
  REQUIRE(first.exit_code == 0);
  CHECK(first.out.rfind("OK: first checkpoint: size 5", 0) == 0);
  REQUIRE(h->Stop() == 0);
  fs::copy(h->data_dir(), prefix, fs::copy_options::recursive);

  // Directory A: the prefix and 3 entries of its own. The watcher follows it.
  Append(*h, 3, "test.branch-a");
  REQUIRE(h->Start());
  WaitForCheckpoint(*h, "", 8);
  CommandResult a = watch(state);
  INFO(a.out << a.err);
  REQUIRE(a.exit_code == 0);
  CHECK(a.out.rfind("OK: size 8 is consistent with size 5", 0) == 0);
  REQUIRE(h->Stop() == 0);
  const std::string a_state = tmp.path() + "/a.state";
  fs::copy_file(state, a_state);

  SECTION("directory B, same size and different entries: fork") {
    RestoreDir(prefix, h->data_dir());
    Append(*h, 3, "test.branch-b");
    REQUIRE(h->Start());
    WaitForCheckpoint(*h, "", 8);
    CommandResult b = watch(state);
    INFO(b.out << b.err);
    CHECK(b.exit_code == 1);
    CHECK(b.err.rfind("ALARM: fork: two checkpoints of size 8 with different roots", 0) == 0);
  }
  SECTION("directory B, larger and different: fork (it cannot prove it extends size 8)") {
    RestoreDir(prefix, h->data_dir());
    Append(*h, 6, "test.branch-b");
    REQUIRE(h->Start());
    WaitForCheckpoint(*h, "", 11);
    CommandResult b = watch(state);
    INFO(b.out << b.err);
    CHECK(b.exit_code == 1);
    CHECK(b.err.rfind("ALARM: fork", 0) == 0);
  }
  SECTION("directory B, the prefix alone: rollback") {
    RestoreDir(prefix, h->data_dir());
    REQUIRE(h->Start());
    WaitForCheckpoint(*h, "", 5);
    CommandResult b = watch(state);
    INFO(b.out << b.err);
    CHECK(b.exit_code == 1);
    CHECK(b.err.rfind("ALARM: rollback: the log serves a checkpoint of size 5, smaller than the size 8", 0) == 0);
  }
  SECTION("an unreachable log is exit 3, not an alarm, and the state is kept") {
    CommandResult b = watch(state);
    CHECK(b.exit_code == 3);
    CHECK(ReadFileForTest(state) == ReadFileForTest(a_state));
  }
}

}  // namespace
}  // namespace consentd::testing
