// RunParts calls every part exactly once, concurrently (a part runs on a
// thread other than the caller's), and PartRange cuts n items into
// contiguous ranges that cover them exactly.
#include "src/base/run_parts.h"

#include <catch2/catch.hpp>
#include <atomic>
#include <condition_variable>
#include <mutex>
#include <thread>
#include <vector>

namespace consentd {
namespace {

TEST_CASE("RunParts calls each part once, the first on the calling thread", "[base][run_parts]") {
  for (size_t parts : {0, 1, 2, 5}) {
    std::vector<std::atomic<int>> calls(parts);
    std::vector<std::thread::id> ids(parts);
    RunParts(parts, [&](size_t k) {
      calls[k].fetch_add(1);
      ids[k] = std::this_thread::get_id();
    });
    for (size_t k = 0; k < parts; ++k) CHECK(calls[k].load() == 1);
    if (parts > 0) CHECK(ids[0] == std::this_thread::get_id());
    for (size_t k = 1; k < parts; ++k) CHECK(ids[k] != std::this_thread::get_id());
  }
}

TEST_CASE("RunParts runs its parts at the same time", "[base][run_parts]") {
  // Each part waits until both have started: run one after the other, the
  // first would wait forever (bounded here, then the check fails).
  std::mutex mu;
  std::condition_variable cv;
  int started = 0;
  std::atomic<int> met{0};
  RunParts(2, [&](size_t) {
    std::unique_lock<std::mutex> l(mu);
    ++started;
    cv.notify_all();
    if (cv.wait_for(l, std::chrono::seconds(10), [&] { return started == 2; })) met.fetch_add(1);
  });
  CHECK(met.load() == 2);
}

TEST_CASE("PartRange cuts n items into contiguous ranges covering all of them", "[base][run_parts]") {
  for (size_t n : {0, 1, 2, 3, 10, 10001}) {
    for (size_t parts : {1, 2, 3, 7}) {
      size_t next = 0;
      for (size_t k = 0; k < parts; ++k) {
        auto [b, e] = PartRange(n, parts, k);
        CHECK(b == next);
        CHECK(e >= b);
        CHECK(e - b <= n / parts + 1);
        next = e;
      }
      CHECK(next == n);
    }
  }
}

}  // namespace
}  // namespace consentd
