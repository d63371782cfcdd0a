// Rebuild check: recomputes the consent state projection (the consent_state
// table) from the ledger alone and compares it with the live table
// (`consentctl rebuild --check`, POST /v1/admin/rebuild-check).
//
// The replay, in ledger order:
//   - "subject.merged" {sid, merged_sid}: merged_sid (and every sid merged
//     into it before) joins sid's group;
//   - "consent.recorded" with outcome "apply": the row (sid, purpose) becomes
//     the entry's decision, time, source, rank and seq;
//   - "consent.recorded" with outcome "no_change": the row becomes the entry
//     when it is a stronger claim of the same decision than the group's
//     current state (newer, or higher-ranked), as ConsentService records it.
// The source rank is not in the entry: it is the policy's rank of the
// source system for the purpose. When an entry was decided under another
// policy version than the one given, the rank of its row is not compared
// (RebuildReport::rank_unverified counts such rows).
// The alias map the ledger's merges imply is compared with identity_aliases
// too, since a subject's answer combines its group's rows.
//
// Ledger and tables are read in one SQLite read transaction on a connection
// of its own, so the check sees one consistent snapshot and never blocks
// the service's readers or writers. Memory: about 150 bytes per state row.
//
// Differences name pseudonyms, purposes, fields and non-personal values
// (decisions, times, systems, methods, ranks, seqs); never an identifier.
//
// Thread-safety: a pure function of the database file; safe to run beside a
// running consentd.
#ifndef CONSENTD_SERVICE_REBUILD_H_
#define CONSENTD_SERVICE_REBUILD_H_

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "policies/policy_set.h"
#include "src/base/result.h"
#include "src/domain/sid.h"

namespace consentd::service {

// One field that differs. `ledger` is the value the replay gives, `table` the
// live one; "absent" when the row does not exist on that side.
struct ProjectionDifference {
  domain::Sid sid;
  std::string purpose;   // empty for field "merged_into"
  std::string field;     // "row", "decision", "occurred_at", "source_system",
                         // "source_rank", "method", "seq", "merged_into"
  std::string ledger;
  std::string table;
};

struct RebuildReport {
  uint64_t ledger_size = 0;       // entries replayed
  uint64_t consent_entries = 0;   // "consent.recorded" entries among them
  uint64_t merges = 0;            // "subject.merged" entries
  uint64_t rows_rebuilt = 0;      // state rows the replay produced
  uint64_t rows_live = 0;         // rows in consent_state
  uint64_t rank_unverified = 0;   // rows whose entry used another policy version
  uint64_t total_differences = 0;
  std::vector<ProjectionDifference> differences;  // the first max_listed, by sid and purpose
  // Erasure requests and tombstones (src/erasure/rebuild_check.h).
  uint64_t erasure_requests = 0;
  uint64_t tombstones = 0;
  std::vector<std::string> erasure_differences;  // by request id and field; the first max_listed

  bool equal() const { return total_differences == 0 && erasure_differences.empty(); }
  // A human summary: counts, then one line per listed difference.
  std::string ToText() const;
};

struct RebuildOptions {
  size_t max_listed = 1000;
  // Called every 65,536 entries with (replayed, ledger size) while replaying.
  std::function<void(uint64_t, uint64_t)> progress;
};

// Replays the ledger of the database at `database_path` and compares. The
// policy gives the source ranks. kCorruption for an entry that does not
// parse; I/O errors as they come.
Result<RebuildReport> CheckConsentProjection(const std::string& database_path, const policies::PolicySet& policy,
                                             const RebuildOptions& options = RebuildOptions());

}  // namespace consentd::service

#endif  // CONSENTD_SERVICE_REBUILD_H_
