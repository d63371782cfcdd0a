// ledger_append_loop: appends to a ledger from several threads until killed,
// for crash_test.cc. After each Append that returned OK it prints
// "<seq> <payload id>\n" to stdout and flushes, so every printed line is an
// acknowledged (durable) entry. A signing thread adds checkpoints now and then.
//
// Usage: ledger_append_loop DB_PATH ORIGIN SEED_HEX32 RUN_TAG THREADS
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "ledger/ledger.h"
#include "ledger/note.h"
#include "src/base/bytes.h"

int main(int argc, char** argv) {
  using namespace consentd;
  if (argc != 6) {
    std::fprintf(stderr, "usage: %s DB_PATH ORIGIN SEED_HEX32 RUN_TAG THREADS\n", argv[0]);
    return 2;
  }
  const std::string tag = argv[4];
  const int threads = std::atoi(argv[5]);
  Result<std::string> seed = HexDecode(argv[3]);
  if (!seed.ok() || seed->size() != 32 || threads < 1) {
    std::fprintf(stderr, "bad seed or thread count\n");
    return 2;
  }
  Result<ledger::Signer> signer = ledger::Signer::FromSeed(argv[2], *seed);
  if (!signer.ok()) {
    std::fprintf(stderr, "signer: %s\n", signer.status().ToString().c_str());
    return 2;
  }
  ledger::LedgerOptions o;
  o.path = argv[1];
  o.create_if_missing = true;
  o.origin = argv[2];
  o.signer = &*signer;
  Result<std::unique_ptr<ledger::Ledger>> l = ledger::Ledger::Open(o);
  if (!l.ok()) {
    std::fprintf(stderr, "open: %s\n", l.status().ToString().c_str());
    return 3;
  }
  ledger::Ledger& ledger = **l;
  std::mutex out_mu;
  std::vector<std::thread> workers;
  for (int t = 0; t < threads; ++t) {
    workers.emplace_back([&, t] {
      for (uint64_t i = 0;; ++i) {
        std::string id = tag + "-" + std::to_string(t) + "-" + std::to_string(i);
        Result<std::vector<ledger::AppendedEntry>> r =
            ledger.Append({{"test.crash", "{\"id\":\"" + id + "\"}"}});
        if (!r.ok()) {
          std::fprintf(stderr, "append: %s\n", r.status().ToString().c_str());
          std::_Exit(4);
        }
        std::lock_guard<std::mutex> lock(out_mu);
        std::printf("%llu %s\n", static_cast<unsigned long long>((*r)[0].seq), id.c_str());
        std::fflush(stdout);
      }
    });
  }
  // Checkpoints while appending: they must survive the kill too.
  for (;;) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    Result<ledger::StoredCheckpoint> c = ledger.SignCheckpoint();
    if (!c.ok()) {
      std::fprintf(stderr, "sign: %s\n", c.status().ToString().c_str());
      std::_Exit(5);
    }
  }
}
