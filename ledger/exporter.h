// Exporter: writes ledger entries as JSON Lines, each line exactly the
// stored (and hashed) entry bytes followed by "\n" (docs/ledger-format.md §7).
//
// Thread-safety: thread-safe; the ledger must stay open.
#ifndef CONSENTD_LEDGER_EXPORTER_H_
#define CONSENTD_LEDGER_EXPORTER_H_

#include <cstdint>
#include <cstdio>
#include <functional>

#include "ledger/ledger.h"

namespace consentd::ledger {

// Writes entries [0, size) to `out`. On failure returns non-OK; `out` may
// hold a prefix and should be discarded. REQUIRES size <= ledger.Size().
Status ExportEntries(const Ledger& ledger, uint64_t size, std::FILE* out,
                     const std::function<void(uint64_t, uint64_t)>& progress = nullptr);

}  // namespace consentd::ledger

#endif  // CONSENTD_LEDGER_EXPORTER_H_
