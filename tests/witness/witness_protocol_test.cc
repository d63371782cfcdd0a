// Tests of src/witness/witness_protocol and of the publisher against a fake
// transport: request bodies, 409 size bodies and cosignature responses,
// including forged, foreign and malformed answers.
#include <catch2/catch.hpp>
#include <mutex>
#include <string>
#include <vector>

#include "ledger/ledger.h"
#include "ledger/note.h"
#include "src/base/bytes.h"
#include "src/witness/http_transport.h"
#include "src/witness/publisher.h"
#include "src/witness/witness_protocol.h"
#include "tests/ledger/test_util.h"

namespace consentd::witness {
namespace {

using consentd::testing::MerkleVectors;
using consentd::testing::TempDir;
using namespace std::chrono_literals;

ledger::VerifierKey Key(const std::string& vkey) {
  Result<ledger::VerifierKey> k = ledger::ParseVerifierKey(vkey);
  REQUIRE(k.ok());
  return *k;
}

TEST_CASE("add-checkpoint bodies carry the old size, the proof lines, a blank line and the note", "[witness]") {
  Hash h{};
  h[0] = 1;
  CHECK(AddCheckpointBody(0, {}, "o\n1\nX\n\n— o sig\n") == "old 0\n\no\n1\nX\n\n— o sig\n");
  CHECK(AddCheckpointBody(5, {h, h}, "N") ==
        "old 5\n" + Base64Encode(AsBytes(h)) + "\n" + Base64Encode(AsBytes(h)) + "\n\nN");
}

TEST_CASE("409 bodies must be one canonical decimal line", "[witness]") {
  CHECK(*ParseTlogSize("0\n") == 0);
  CHECK(*ParseTlogSize("12345\n") == 12345);
  CHECK(*ParseTlogSize("18446744073709551615\n") == UINT64_MAX);
  for (const char* bad : {"", "\n", "12", "012\n", "-1\n", "1 \n", "18446744073709551616\n", "1\n2\n", "x\n"}) {
    INFO(bad);
    CHECK_FALSE(ParseTlogSize(bad).ok());
  }
}

TEST_CASE("cosignature responses are verified against the witness key and foreign lines are dropped", "[witness]") {
  const nlohmann::json& ex = MerkleVectors()["checkpoint_example"];
  const std::string body = ex["checkpoint_body"].get<std::string>();
  const std::string note = ex["signed_checkpoint"].get<std::string>();
  const std::string line = note.substr(note.rfind("\xE2\x80\x94 witness"), std::string::npos);  // ends with \n
  const ledger::VerifierKey w = Key(ex["witness"]["vkey"].get<std::string>());
  Result<std::vector<std::string>> ok = VerifiedCosignatureLines(line, w, body);
  REQUIRE(ok.ok());
  REQUIRE(ok->size() == 1);
  CHECK((*ok)[0] + "\n" == line);
  // The log's own signature line is not this witness's: dropped, and alone it is an error.
  const std::string log_line = note.substr(note.find("\xE2\x80\x94 example.com"), note.rfind("\xE2\x80\x94 witness") -
                                                                                       note.find("\xE2\x80\x94 example.com"));
  CHECK_FALSE(VerifiedCosignatureLines(log_line, w, body).ok());
  Result<std::vector<std::string>> both = VerifiedCosignatureLines(log_line + line, w, body);
  REQUIRE(both.ok());
  CHECK(both->size() == 1);
  // Forged: one flipped base64 character of the signature.
  std::string forged = line;
  forged[forged.size() - 5] = forged[forged.size() - 5] == 'A' ? 'B' : 'A';
  CHECK_FALSE(VerifiedCosignatureLines(forged, w, body).ok());
  // A valid cosignature of another checkpoint (replayed) does not verify here.
  CHECK_FALSE(VerifiedCosignatureLines(line, w, "example.com/consent-ledger\n4\nNmQuc8JUCrEh46a/lUWwokmCzYMOsT080Z3jzmwCHsE=\n").ok());
  for (const std::string& bad : {std::string(), std::string("garbage\n"), line.substr(0, line.size() - 1),
                                 std::string(70000, 'x') + "\n"}) {
    CHECK_FALSE(VerifiedCosignatureLines(bad, w, body).ok());
  }
}

TEST_CASE("witness URLs split into base and prefix, other schemes are refused", "[witness]") {
  auto s = SplitWitnessUrl("http://127.0.0.1:8080/w/");
  REQUIRE(s.ok());
  CHECK(s->first == "http://127.0.0.1:8080");
  CHECK(s->second == "/w");
  CHECK(SplitWitnessUrl("https://witness.example").ok());
  CHECK_FALSE(SplitWitnessUrl("ftp://x/").ok());
  CHECK_FALSE(SplitWitnessUrl("127.0.0.1:80").ok());
  CHECK_FALSE(SplitWitnessUrl("http://").ok());
}

// A ledger with a signed checkpoint, and a publisher whose transport is a
// scripted fake.
struct FakeFixture {
  TempDir dir;
  ledger::Signer signer = NewSigner();
  ledger::Signer witness_signer = NewSigner();  // only to get a type-0x04 key shape
  std::unique_ptr<ledger::Ledger> ledger;
  std::mutex mu;
  std::vector<std::string> requests;  // guarded by mu

  static ledger::Signer NewSigner() {
    Result<ledger::Signer> s = ledger::Signer::Generate("test.example/fake-log");
    REQUIRE(s.ok());
    return std::move(*s);
  }

  FakeFixture() {
    ledger::LedgerOptions o;
    o.path = (dir / "l.db").string();
    o.create_if_missing = true;
    o.origin = "test.example/fake-log";
    o.signer = &signer;
    auto l = ledger::Ledger::Open(o);
    REQUIRE(l.ok());
    ledger = std::move(*l);
    std::vector<ledger::NewEntry> e(4, ledger::NewEntry{"test.w", "{}"});
    REQUIRE(ledger->Append(e).ok());
  }

  WitnessEndpoint Endpoint() {
    ledger::VerifierKey k = witness_signer.verifier_key();
    k.name = "fake.witness";
    k.type = 0x04;
    k.key_id = ledger::ComputeKeyId(k.name, 0x04, k.public_key);
    return {"fake.witness", "http://127.0.0.1:1", k};
  }
};

TEST_CASE("a forged or malformed witness answer is never stored or published", "[witness]") {
  FakeFixture f;
  std::string answer_body;
  int answer_status = 200;
  PublisherOptions o;
  o.witnesses.push_back(f.Endpoint());
  o.quorum = 1;
  o.retry_min = 10ms;
  o.retry_max = 20ms;
  o.transport = [&](const WitnessEndpoint&, const std::string& body) -> Result<WitnessResponse> {
    std::lock_guard<std::mutex> l(f.mu);
    f.requests.push_back(body);
    return WitnessResponse{answer_status, "text/plain", answer_body};
  };
  SECTION("a cosignature line with a bad signature") {
    answer_body = "\xE2\x80\x94 fake.witness " + Base64Encode(AsBytes(std::string(76, 'x'))) + "\n";
  }
  SECTION("a 409 without a size") {
    answer_status = 409;
    answer_body = "soon\n";
  }
  SECTION("a 409 reporting a size beyond the log") {
    answer_status = 409;
    answer_body = "1000\n";
  }
  SECTION("a 500") { answer_status = 500; }
  Result<std::unique_ptr<CheckpointPublisher>> p = CheckpointPublisher::Start(*f.ledger, o);
  REQUIRE(p.ok());
  Result<ledger::StoredCheckpoint> cp = f.ledger->SignCheckpoint();
  REQUIRE(cp.ok());
  (*p)->OnSigned(*cp);
  // Several attempts happen (retries back off from 10 ms).
  for (int i = 0; i < 200; ++i) {
    {
      std::lock_guard<std::mutex> l(f.mu);
      if (f.requests.size() >= 3) break;
    }
    std::this_thread::sleep_for(10ms);
  }
  {
    std::lock_guard<std::mutex> l(f.mu);
    CHECK(f.requests.size() >= 3);
    CHECK(f.requests[0].rfind("old 0\n\n", 0) == 0);
  }
  CHECK((*p)->published_size() == 0);
  CHECK((*p)->Current().status().code() == StatusCode::kNotFound);
  CHECK((*p)->witness_size("fake.witness") == 0);
}

TEST_CASE("publisher options are validated", "[witness]") {
  FakeFixture f;
  PublisherOptions o;
  o.quorum = 1;
  CHECK_FALSE(CheckpointPublisher::Start(*f.ledger, o).ok());
  o.witnesses = {f.Endpoint(), f.Endpoint()};
  o.transport = [](const WitnessEndpoint&, const std::string&) -> Result<WitnessResponse> { return Status::Unavailable("x"); };
  CHECK_FALSE(CheckpointPublisher::Start(*f.ledger, o).ok());
  o.witnesses = {f.Endpoint()};
  o.witnesses[0].key.type = 0x01;
  CHECK_FALSE(CheckpointPublisher::Start(*f.ledger, o).ok());
  o.witnesses = {f.Endpoint()};
  CHECK(CheckpointPublisher::Start(*f.ledger, o).ok());
}

}  // namespace
}  // namespace consentd::witness
