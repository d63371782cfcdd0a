// CheckErasureTables: replays the erasure entries of the ledger and compares
// the request states and the tombstone count they imply with the tables
// (erasure_requests, tombstones). Part of `consentctl rebuild --check`
// (src/service/rebuild.cc).
//
// From the ledger: each request's state (its transition entries), whether it
// was extended and its due date, whether it was shredded; the tombstone
// count is the sum of "tombstones" of the completion entries minus those of
// "tombstone.lifted". Differences name request ids and fields only.
//
// Thread-safety: reads through the caller's connection (and snapshot).
#ifndef CONSENTD_ERASURE_REBUILD_CHECK_H_
#define CONSENTD_ERASURE_REBUILD_CHECK_H_

#include <cstdint>
#include <string>
#include <vector>

#include "src/base/result.h"

struct sqlite3;

namespace consentd::erasure {

struct ErasureCheck {
  uint64_t requests_ledger = 0;
  uint64_t requests_table = 0;
  uint64_t tombstones_ledger = 0;
  uint64_t tombstones_table = 0;
  // "request er_…: state: ledger completed, table propagating", "tombstones: ledger 3, table 2".
  std::vector<std::string> differences;
};

// kCorruption when an erasure entry's payload is not what this code writes.
// Without erasure tables (an old data directory) the table side is empty.
Result<ErasureCheck> CheckErasureTables(sqlite3* db);

}  // namespace consentd::erasure

#endif  // CONSENTD_ERASURE_REBUILD_CHECK_H_
