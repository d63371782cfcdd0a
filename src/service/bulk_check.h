// Bulk check: the reads behind ConsentService::QueryMany, the consent state
// of many identifiers for one purpose (POST /v1/consents/check takes up to
// 10,000).
//
// Two phases, each cut into `parts` (1 or 2) that run at the same time on
// their own read connections of the vault::Database pool, part 0 on the
// calling thread, the other on a thread started for it:
//   1. identifiers -> subjects (SubjectRegistry::LookupMany in parts):
//      each part normalizes half of the identifiers and computes their
//      blind indexes; then, all sorted, each part probes half of the key
//      range, so the two walk disjoint halves of the B-tree;
//   2. states: the distinct subjects found, sorted, are cut in parts; each
//      part reads its subjects' state rows in sid order (the subject's own
//      row, then the rows of the subjects merged into it), each subject
//      once.
// Why two parts: with 1,000,000 subjects these page walks are most of a
// check's time, and they are walked cold on every check (SQLite drops a
// read connection's page cache and memory map whenever another connection
// wrote), so two cores walking half each nearly halve the time.
//
// Consistency: each part of each phase reads in one read transaction of its
// own (before, the lookups and the state reads were already two). Each
// answer reflects states committed during the call; without concurrent
// writes the answers are those of Query() one by one. A subject's state is
// read once, so identifiers resolving to one subject get one answer.
//
// Thread-safety: thread-safe (the Database pool serializes each connection).
#ifndef CONSENTD_SERVICE_BULK_CHECK_H_
#define CONSENTD_SERVICE_BULK_CHECK_H_

#include <optional>
#include <span>
#include <string_view>
#include <vector>

#include "policies/policy_set.h"
#include "src/base/result.h"
#include "src/domain/consent.h"
#include "src/domain/identifier_kind.h"
#include "src/domain/sid.h"
#include "src/identity/subject_registry.h"
#include "src/service/consent_service.h"
#include "src/vault/sqlite_database.h"

namespace consentd::service {

// Below this many subjects the state reads run as one part: a thread start
// costs more than it saves (LookupMany has its own threshold).
constexpr size_t kBulkCheckMinPerPart = 256;

// The answer for each of `identifiers` to `purpose` (whose policy entry is
// `policy`), in order: out[i] is identifier i's answer or its own error
// (kInvalidArgument when it does not normalize; a read error); subjects[i]
// the subject it resolves to when known (for the access log). Unknown
// identifiers get the policy default for `jurisdiction`. `parts` >= 1; more
// than 2 is treated as 2. Returns OK (errors are per identifier).
Status CheckMany(vault::Database& db, const identity::SubjectRegistry& registry, const policies::Purpose& policy,
                 std::string_view purpose, std::string_view jurisdiction,
                 std::span<const domain::Identifier> identifiers, size_t parts,
                 std::vector<Result<ConsentAnswer>>* out, std::vector<std::optional<domain::Sid>>* subjects);

// The winning state (state_order.h) for `purpose` among the state rows of
// each of `roots` and of the subjects merged into it: out[i] for roots[i]
// (nullopt: no row), or the read's error. Reads in one read transaction, on
// the connection Database::Lock() gives this thread; fastest when `roots`
// is sorted. REQUIRES: out.size() == roots.size().
void ReadStates(vault::Database& db, std::span<const domain::Sid> roots, std::string_view purpose,
                std::span<Result<std::optional<domain::ConsentState>>> out);

}  // namespace consentd::service

#endif  // CONSENTD_SERVICE_BULK_CHECK_H_
