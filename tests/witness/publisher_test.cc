// Tests of the CheckpointPublisher against test_witness running as a separate
// process: cosigning, consistency from the last cosigned size, a witness that
// is down, slow, killed or answers 409, k-of-n publication, and state kept
// across restarts. Appends and signing never wait for a witness.
#include <catch2/catch.hpp>
#include <chrono>
#include <string>
#include <thread>

#include "ledger/ledger.h"
#include "ledger/note.h"
#include "src/witness/http_transport.h"
#include "src/witness/publisher.h"
#include "tests/ledger/test_util.h"
#include "tests/witness/witness_process.h"

namespace consentd::witness {
namespace {

using consentd::testing::TempDir;
using consentd::testing::WitnessProcess;
using namespace std::chrono_literals;

constexpr const char* kOrigin = "test.example/witnessed-log";

struct Fixture {
  TempDir dir;
  ledger::Signer signer = NewSigner();
  std::unique_ptr<ledger::Ledger> ledger;

  static ledger::Signer NewSigner() {
    Result<ledger::Signer> s = ledger::Signer::Generate(kOrigin);
    REQUIRE(s.ok());
    return std::move(*s);
  }

  Fixture() {
    ledger::LedgerOptions o;
    o.path = (dir / "l.db").string();
    o.create_if_missing = true;
    o.origin = kOrigin;
    o.signer = &signer;
    auto l = ledger::Ledger::Open(o);
    REQUIRE(l.ok());
    ledger = std::move(*l);
  }

  std::unique_ptr<WitnessProcess> StartWitness(const std::string& name, int port = 0) {
    auto w = WitnessProcess::Start(TEST_WITNESS_PATH, signer.verifier_key_string(), name,
                                   (dir / (name + ".state")).string(), port);
    REQUIRE(w);
    return w;
  }

  static WitnessEndpoint Endpoint(const WitnessProcess& w, const std::string& name) {
    Result<ledger::VerifierKey> k = ledger::ParseVerifierKey(w.vkey());
    REQUIRE(k.ok());
    return {name, w.url(), *k};
  }

  static PublisherOptions Options(std::vector<WitnessEndpoint> ws, size_t quorum) {
    PublisherOptions o;
    o.witnesses = std::move(ws);
    o.quorum = quorum;
    o.transport = HttpTransport(2000ms);
    o.retry_min = 20ms;
    o.retry_max = 100ms;
    return o;
  }

  // Appends n entries, signs, and hands the checkpoint to the publisher.
  ledger::StoredCheckpoint Grow(CheckpointPublisher& p, int n) {
    std::vector<ledger::NewEntry> e(static_cast<size_t>(n), ledger::NewEntry{"test.witnessed", "{}"});
    REQUIRE(ledger->Append(e).ok());
    Result<ledger::StoredCheckpoint> cp = ledger->SignCheckpoint();
    REQUIRE(cp.ok());
    p.OnSigned(*cp);
    return *cp;
  }

  bool WaitWitness(const CheckpointPublisher& p, const std::string& name, uint64_t size) {
    for (int i = 0; i < 500; ++i) {
      if (p.witness_size(name) >= size) return true;
      std::this_thread::sleep_for(10ms);
    }
    return false;
  }
};

TEST_CASE("a witness cosigns each new checkpoint and the published note carries a cosignature that verifies",
          "[witness][process]") {
  Fixture f;
  auto w = f.StartWitness("w1.test");
  auto p = CheckpointPublisher::Start(*f.ledger, Fixture::Options({Fixture::Endpoint(*w, "w1.test")}, 1));
  REQUIRE(p.ok());
  f.Grow(**p, 3);
  REQUIRE((*p)->WaitForPublished(3, 10s));
  Result<Published> pub = (*p)->Current();
  REQUIRE(pub.ok());
  CHECK(pub->size == 3);
  CHECK(pub->cosignatures == 1);
  Result<ledger::Note> note = ledger::ParseNote(pub->note);
  REQUIRE(note.ok());
  Result<std::vector<std::string>> names =
      ledger::VerifyNote(*note, {f.signer.verifier_key(), Fixture::Endpoint(*w, "w1.test").key});
  REQUIRE(names.ok());
  CHECK(*names == std::vector<std::string>{kOrigin, "w1.test"});
  // The next checkpoint goes with a consistency proof from 3.
  f.Grow(**p, 4);
  REQUIRE((*p)->WaitForPublished(7, 10s));
  CHECK(w->Size() == 7);
  CHECK((*p)->witness_size("w1.test") == 7);
}

TEST_CASE("a witness that is down or killed never blocks signing and is caught up when it returns",
          "[witness][process]") {
  Fixture f;
  auto w = f.StartWitness("w1.test");
  const int port = w->port();
  auto p = CheckpointPublisher::Start(*f.ledger, Fixture::Options({Fixture::Endpoint(*w, "w1.test")}, 0));
  REQUIRE(p.ok());
  f.Grow(**p, 2);
  REQUIRE(f.WaitWitness(**p, "w1.test", 2));
  REQUIRE(w->Control("down"));
  for (int i = 0; i < 5; ++i) f.Grow(**p, 1);
  // Quorum 0: the latest checkpoint is published at once, without a cosignature.
  CHECK((*p)->published_size() == 7);
  CHECK((*p)->witness_size("w1.test") == 2);
  // Killed outright: connections are refused, signing goes on.
  const std::string vkey = w->vkey();
  w->Kill();
  f.Grow(**p, 3);
  CHECK((*p)->published_size() == 10);
  // Back on the same port with its state: caught up from size 2 to 10.
  auto back = WitnessProcess::Start(TEST_WITNESS_PATH, f.signer.verifier_key_string(), "w1.test",
                                    (f.dir / "w1.test.state").string(), port);
  REQUIRE(back);
  REQUIRE(f.WaitWitness(**p, "w1.test", 10));
  CHECK(back->Size() == 10);
  CHECK((*p)->Current()->cosignatures == 1);
}

TEST_CASE("a slow witness delays only its own cosignature", "[witness][process]") {
  Fixture f;
  auto w = f.StartWitness("w1.test");
  auto p = CheckpointPublisher::Start(*f.ledger, Fixture::Options({Fixture::Endpoint(*w, "w1.test")}, 0));
  REQUIRE(p.ok());
  REQUIRE(w->Control("slow 800"));
  auto start = std::chrono::steady_clock::now();
  f.Grow(**p, 1);
  f.Grow(**p, 1);
  CHECK(std::chrono::steady_clock::now() - start < 700ms);  // appends and signing did not wait
  CHECK((*p)->published_size() == 2);
  REQUIRE(f.WaitWitness(**p, "w1.test", 2));
  CHECK(w->Size() == 2);
}

TEST_CASE("a witness that answers 409 is resent the checkpoint from the size it reports", "[witness][process]") {
  Fixture f;
  auto w = f.StartWitness("w1.test");
  auto p = CheckpointPublisher::Start(*f.ledger, Fixture::Options({Fixture::Endpoint(*w, "w1.test")}, 1));
  REQUIRE(p.ok());
  f.Grow(**p, 5);
  REQUIRE((*p)->WaitForPublished(5, 10s));
  // The witness forgets its state: the log sends "old 5", gets 409 "0", and
  // resends from 0.
  REQUIRE(w->Control("reset"));
  REQUIRE(w->Size() == 0);
  f.Grow(**p, 3);
  REQUIRE((*p)->WaitForPublished(8, 10s));
  CHECK(w->Size() == 8);
  CHECK((*p)->witness_size("w1.test") == 8);
}

TEST_CASE("with a quorum of 2 a checkpoint is published only once two witnesses cosigned it", "[witness][process]") {
  Fixture f;
  auto a = f.StartWitness("a.test");
  auto b = f.StartWitness("b.test");
  REQUIRE(b->Control("down"));
  auto p = CheckpointPublisher::Start(
      *f.ledger, Fixture::Options({Fixture::Endpoint(*a, "a.test"), Fixture::Endpoint(*b, "b.test")}, 2));
  REQUIRE(p.ok());
  f.Grow(**p, 3);
  REQUIRE(f.WaitWitness(**p, "a.test", 3));
  CHECK((*p)->published_size() == 0);
  CHECK((*p)->Current().status().code() == StatusCode::kNotFound);
  REQUIRE(b->Control("normal"));
  REQUIRE((*p)->WaitForPublished(3, 10s));
  Result<Published> pub = (*p)->Current();
  REQUIRE(pub.ok());
  CHECK(pub->cosignatures == 2);
  Result<ledger::Note> note = ledger::ParseNote(pub->note);
  REQUIRE(note.ok());
  CHECK(note->signatures.size() == 3);
  // b goes down again: the next checkpoint is signed, a cosigns it, but the
  // published one stays at 3.
  REQUIRE(b->Control("down"));
  f.Grow(**p, 2);
  REQUIRE(f.WaitWitness(**p, "a.test", 5));
  CHECK((*p)->published_size() == 3);
}

TEST_CASE("the log remembers each witness's cosigned size and cosignatures across restarts", "[witness][process]") {
  Fixture f;
  auto w = f.StartWitness("w1.test");
  {
    auto p = CheckpointPublisher::Start(*f.ledger, Fixture::Options({Fixture::Endpoint(*w, "w1.test")}, 1));
    REQUIRE(p.ok());
    f.Grow(**p, 4);
    REQUIRE((*p)->WaitForPublished(4, 10s));
  }
  REQUIRE(w->Control("down"));
  auto p = CheckpointPublisher::Start(*f.ledger, Fixture::Options({Fixture::Endpoint(*w, "w1.test")}, 1));
  REQUIRE(p.ok());
  CHECK((*p)->witness_size("w1.test") == 4);
  Result<Published> pub = (*p)->Current();
  REQUIRE(pub.ok());
  CHECK(pub->size == 4);
  CHECK(pub->cosignatures == 1);
}

}  // namespace
}  // namespace consentd::witness
