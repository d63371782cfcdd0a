// RunParts: runs the parts of one computation at the same time, part 0 on
// the calling thread and each other part on a thread started for it, and
// returns when all are done. For batch work that splits into independent
// ranges (a bulk check's lookups and state reads on two read connections).
// PartRange cuts n items into contiguous ranges.
//
// Thread-safety: RunParts may be called from any thread; fn is called
// concurrently from several threads with distinct part numbers, so it must
// only write state of its own part.
#ifndef CONSENTD_BASE_RUN_PARTS_H_
#define CONSENTD_BASE_RUN_PARTS_H_

#include <cstddef>
#include <functional>
#include <utility>

namespace consentd {

// Calls fn(k) once for every k in [0, parts). A part whose thread cannot be
// started (the system refused one) runs on the calling thread after part 0,
// so every part always runs. parts == 0 calls nothing.
void RunParts(size_t parts, const std::function<void(size_t)>& fn);

// [begin, end) of part k when n items are cut into `parts` contiguous
// ranges of sizes differing by at most one. REQUIRES: k < parts.
inline std::pair<size_t, size_t> PartRange(size_t n, size_t parts, size_t k) {
  return {n * k / parts, n * (k + 1) / parts};
}

}  // namespace consentd

#endif  // CONSENTD_BASE_RUN_PARTS_H_
