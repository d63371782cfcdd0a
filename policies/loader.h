// Loading policy documents: read one or several JSON files, validate each,
// merge them into one PolicySet, and check the references between them.
// Every problem found is reported (file, JSON pointer, problem), not just the
// first; a PolicySet is produced only when there is none.
//
// Merging: each file may hold any of the sections `purposes`, `systems`,
// `jurisdictions` and `identity`. A purpose, system or jurisdiction defined
// in two files, or an `identity` section in two files, is an error naming
// both files. See docs/policies.md for the document format.
//
// Thread-safety: pure functions (LoadPolicyFiles reads files and nothing
// else); safe to call concurrently.
#ifndef CONSENTD_POLICIES_LOADER_H_
#define CONSENTD_POLICIES_LOADER_H_

#include <cstddef>
#include <span>
#include <string>
#include <vector>

#include "policies/policy_error.h"
#include "policies/policy_set.h"
#include "src/base/result.h"

namespace consentd::policies {

// Larger files are rejected unread: a policy is a few kilobytes.
inline constexpr size_t kMaxPolicyFileBytes = 1 << 20;  // 1 MiB

// A policy document in memory. `name` is used in errors (normally the path).
struct PolicyDocument {
  std::string name;
  std::string bytes;
};

struct LoadResult {
  PolicySet policy;                 // meaningful only when ok()
  std::vector<PolicyError> errors;  // in document order
  bool ok() const { return errors.empty(); }
};

// Validates and merges `documents` in order. The version is computed over
// their bytes (policies/policy_version.h) whether or not they are valid.
// Never throws.
LoadResult ParsePolicyDocuments(std::span<const PolicyDocument> documents);

// Reads `paths` (in order) and calls ParsePolicyDocuments. A file that cannot
// be read, or is larger than kMaxPolicyFileBytes, is an error naming it; the
// other files are still checked. Never throws.
LoadResult LoadPolicyFiles(std::span<const std::string> paths);

// For the service: the merged policy, or kInvalidArgument whose message
// lists every error, one per line (FormatErrors).
Result<PolicySet> LoadPolicies(std::span<const std::string> paths);

}  // namespace consentd::policies

#endif  // CONSENTD_POLICIES_LOADER_H_
