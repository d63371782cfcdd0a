// Tests of the Checkpointer: it signs covering checkpoints after appends,
// never signs inconsistent ones, and signs pending growth when destroyed.
#include <atomic>
#include <catch2/catch.hpp>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "ledger/checkpointer.h"
#include "ledger/ledger.h"
#include "ledger/merkle.h"
#include "ledger/note.h"
#include "ledger/verifier.h"
#include "tests/ledger/test_util.h"

namespace consentd::ledger {
namespace {

using consentd::testing::TempDir;
using namespace std::chrono_literals;

constexpr const char* kOrigin = "test.example/checkpointer-ledger";

Signer NewSigner() {
  Result<Signer> s = Signer::Generate(kOrigin);
  REQUIRE(s.ok());
  return std::move(*s);
}

struct Fixture {
  TempDir dir;
  Signer signer = NewSigner();
  std::unique_ptr<Ledger> ledger;

  explicit Fixture(bool with_signer = true) {
    LedgerOptions o;
    o.path = (dir / "ledger.db").string();
    o.create_if_missing = true;
    o.origin = kOrigin;
    if (with_signer) o.signer = &signer;
    Result<std::unique_ptr<Ledger>> l = Ledger::Open(o);
    REQUIRE(l.ok());
    ledger = std::move(*l);
  }

  void Append(int n) {
    std::vector<NewEntry> entries(static_cast<size_t>(n), NewEntry{"test.checkpointer", "{}"});
    REQUIRE(ledger->Append(entries).ok());
  }

  // Checks every stored checkpoint's signature and that each extends the one
  // before it.
  void CheckStoredCheckpointsConsistent() {
    Result<std::vector<StoredCheckpoint>> all = ledger->ListCheckpoints();
    REQUIRE(all.ok());
    for (size_t i = 0; i < all->size(); ++i) {
      const StoredCheckpoint& c = (*all)[i];
      Result<Note> note = ParseNote(c.signed_note);
      REQUIRE(note.ok());
      CHECK(VerifyNote(*note, {signer.verifier_key()}).ok());
      Result<Hash> root = ledger->RootAt(c.checkpoint.size);
      REQUIRE(root.ok());
      CHECK(*root == c.checkpoint.root);
      if (i == 0 || (*all)[i - 1].checkpoint.size == 0) continue;
      const Checkpoint& prev = (*all)[i - 1].checkpoint;
      INFO("checkpoint " << prev.size << " -> " << c.checkpoint.size);
      REQUIRE(prev.size < c.checkpoint.size);
      Result<std::vector<Hash>> proof = ledger->ConsistencyProof(prev.size, c.checkpoint.size);
      REQUIRE(proof.ok());
      CHECK(VerifyConsistency(prev.size, c.checkpoint.size, prev.root, c.checkpoint.root, *proof).ok());
    }
    VerifyOptions vo;
    vo.keys = {signer.verifier_key()};
    VerifyReport r = VerifyLedger(*ledger, vo);
    INFO(r.Summary());
    CHECK(r.ok);
    CHECK(r.checkpoints == all->size());
  }
};

TEST_CASE("Checkpointer signs a checkpoint covering appends, and WaitForSize sees it", "[ledger][checkpointer]") {
  Fixture f;
  std::atomic<int> signed_calls{0};
  CheckpointerOptions o;
  o.min_interval = 20ms;
  o.on_signed = [&](const StoredCheckpoint&) { ++signed_calls; };
  Checkpointer cp(*f.ledger, o);
  CHECK_FALSE(cp.WaitForSize(1, 30ms));  // nothing appended yet
  f.Append(3);
  CHECK(cp.WaitForSize(3, 10s));
  CHECK(cp.signed_size() >= 3);
  f.Append(2);
  f.Append(4);
  CHECK(cp.WaitForSize(9, 10s));
  Result<StoredCheckpoint> latest = f.ledger->LatestCheckpoint();
  REQUIRE(latest.ok());
  CHECK(latest->checkpoint.size == 9);
  CHECK(signed_calls >= 1);
  f.CheckStoredCheckpointsConsistent();
}

TEST_CASE("Checkpointer starts from the ledger's latest checkpoint and signs growth from before it started",
          "[ledger][checkpointer]") {
  Fixture f;
  f.Append(4);
  REQUIRE(f.ledger->SignCheckpoint().ok());
  f.Append(3);
  CheckpointerOptions o;
  o.min_interval = 10ms;
  Checkpointer cp(*f.ledger, o);
  CHECK(cp.signed_size() >= 4);
  CHECK(cp.WaitForSize(7, 10s));
  Result<StoredCheckpoint> latest = f.ledger->LatestCheckpoint();
  REQUIRE(latest.ok());
  CHECK(latest->checkpoint.size == 7);
}

TEST_CASE("Checkpoints signed while appends and manual signing race are never inconsistent",
          "[ledger][checkpointer][concurrency]") {
  Fixture f;
  CheckpointerOptions o;
  o.min_interval = 2ms;
  std::atomic<int> errors{0};
  o.on_error = [&](const Status&) { ++errors; };
  {
    Checkpointer cp(*f.ledger, o);
    std::atomic<int> failed_appends{0};
    std::atomic<int> failed_signs{0};
    std::atomic<bool> stop{false};
    std::vector<std::thread> threads;
    for (int t = 0; t < 4; ++t) {
      threads.emplace_back([&] {
        for (int i = 0; i < 25; ++i) {
          if (!f.ledger->Append({{"test.checkpointer", "{}"}}).ok()) ++failed_appends;
        }
      });
    }
    // A second signer of the same ledger, racing the checkpointer.
    std::thread manual([&] {
      while (!stop) {
        if (!f.ledger->SignCheckpoint().ok()) ++failed_signs;
        std::this_thread::sleep_for(1ms);
      }
    });
    for (std::thread& t : threads) t.join();
    stop = true;
    manual.join();
    CHECK(failed_appends == 0);
    CHECK(failed_signs == 0);
    CHECK(cp.WaitForSize(100, 10s));
  }
  CHECK(errors == 0);
  CHECK(f.ledger->Size() == 100);
  f.CheckStoredCheckpointsConsistent();
  Result<std::vector<StoredCheckpoint>> all = f.ledger->ListCheckpoints();
  REQUIRE(all.ok());
  CHECK(all->size() >= 2);
  CHECK(all->back().checkpoint.size == 100);
}

TEST_CASE("Checkpointer destructor signs growth still waiting for the interval", "[ledger][checkpointer]") {
  Fixture f;
  {
    CheckpointerOptions o;
    o.min_interval = std::chrono::hours(1);
    Checkpointer cp(*f.ledger, o);
    f.Append(1);
    // The first append after a quiet period is signed at once.
    REQUIRE(cp.WaitForSize(1, 10s));
    f.Append(5);
    // The next one must wait out the hour.
    CHECK_FALSE(cp.WaitForSize(6, 50ms));
    CHECK(cp.signed_size() == 1);
  }
  Result<StoredCheckpoint> latest = f.ledger->LatestCheckpoint();
  REQUIRE(latest.ok());
  CHECK(latest->checkpoint.size == 6);
  // Appends after the checkpointer is gone no longer reach it.
  f.Append(1);
  CHECK(f.ledger->LatestCheckpoint()->checkpoint.size == 6);
}

TEST_CASE("Checkpointer reports signing errors and still stops", "[ledger][checkpointer]") {
  Fixture f(/*with_signer=*/false);
  std::mutex mu;
  std::vector<Status> errors;
  {
    CheckpointerOptions o;
    o.min_interval = 5ms;
    o.on_error = [&](const Status& s) {
      std::lock_guard<std::mutex> l(mu);
      errors.push_back(s);
    };
    Checkpointer cp(*f.ledger, o);
    f.Append(2);
    CHECK_FALSE(cp.WaitForSize(2, 50ms));
  }
  std::lock_guard<std::mutex> l(mu);
  REQUIRE_FALSE(errors.empty());
  CHECK(errors.front().code() == StatusCode::kFailedPrecondition);
  CHECK(f.ledger->LatestCheckpoint().status().code() == StatusCode::kNotFound);
}

TEST_CASE("Checkpointers can come and go while appends run", "[ledger][checkpointer][concurrency]") {
  // The destructor returns although appends keep coming, and the commit
  // listener never calls into a destroyed checkpointer.
  Fixture f;
  std::atomic<bool> stop{false};
  std::atomic<bool> watchdog_fired{false};
  std::atomic<int> failed{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 3; ++t) {
    threads.emplace_back([&] {
      while (!stop) {
        if (!f.ledger->Append({{"test.checkpointer", "{}"}}).ok()) ++failed;
      }
    });
  }
  // Appends stop only when every checkpointer is gone, or when the watchdog
  // decides that a destructor is stuck.
  std::mutex wd_mu;
  std::condition_variable wd_cv;
  std::thread watchdog([&] {
    std::unique_lock<std::mutex> l(wd_mu);
    if (!wd_cv.wait_for(l, 30s, [&] { return stop.load(); })) {
      watchdog_fired = true;
      stop = true;
    }
  });
  for (int i = 0; i < 40 && !watchdog_fired; ++i) {
    CheckpointerOptions o;
    o.min_interval = 1ms;
    auto cp = std::make_unique<Checkpointer>(*f.ledger, o);
    std::this_thread::sleep_for(std::chrono::microseconds(200 * (i % 5)));
    cp.reset();
  }
  {
    std::lock_guard<std::mutex> l(wd_mu);
    stop = true;
  }
  wd_cv.notify_all();
  watchdog.join();
  for (std::thread& t : threads) t.join();
  CHECK_FALSE(watchdog_fired);
  CHECK(failed == 0);
  f.CheckStoredCheckpointsConsistent();
}

}  // namespace
}  // namespace consentd::ledger
