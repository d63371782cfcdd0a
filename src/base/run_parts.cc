#include "src/base/run_parts.h"

#include <system_error>
#include <thread>
#include <vector>

namespace consentd {

void RunParts(size_t parts, const std::function<void(size_t)>& fn) {
  if (parts == 0) return;
  std::vector<std::thread> threads;
  std::vector<size_t> inline_parts;
  for (size_t k = 1; k < parts; ++k) {
    try {
      threads.emplace_back(fn, k);
    } catch (const std::system_error&) {
      inline_parts.push_back(k);
    }
  }
  fn(0);
  for (size_t k : inline_parts) fn(k);
  for (std::thread& t : threads) t.join();
}

}  // namespace consentd
