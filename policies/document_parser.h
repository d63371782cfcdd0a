// DocumentParser: turns the bytes of ONE policy document into its sections,
// checking everything that can be checked inside that document (types,
// unknown fields, names, ranges, subsets within a system, kind-specific
// options). Checks that need every document (purposes referenced by
// systems, duplicates across files) are the loader's. Internal to
// policies/loader.cc; callers use policies/loader.h.
//
// Thread-safety: a pure function.
#ifndef CONSENTD_POLICIES_DOCUMENT_PARSER_H_
#define CONSENTD_POLICIES_DOCUMENT_PARSER_H_

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "policies/jurisdiction.h"
#include "policies/policy_error.h"
#include "policies/purpose.h"
#include "policies/system.h"
#include "policies/tombstone_policy.h"
#include "src/domain/identity_rules.h"

namespace consentd::policies {

// The value of the required top-level "format" field.
inline constexpr std::string_view kPolicyFormat = "consentd.policy/v1";

struct ParsedDocument {
  std::map<std::string, Purpose> purposes;
  std::map<std::string, System> systems;
  std::map<std::string, Jurisdiction> jurisdictions;
  std::optional<domain::IdentityRules> identity;
  std::optional<TombstonePolicy> tombstones;
  // (system id, purpose) -> index in that system's "receives" array, so
  // that later errors point at the right element.
  std::map<std::pair<std::string, std::string>, size_t> receives_index;
};

// Parses `bytes` (the whole file) named `file` in errors. Appends every
// problem found to *errors; what could be parsed is returned either way
// (entries with errors may be incomplete). Never throws.
ParsedDocument ParseDocument(const std::string& file, std::string_view bytes,
                             std::vector<PolicyError>* errors);

// The candidate closest to `name` by edit distance (at most 2), or "".
std::string ClosestMatch(std::string_view name, const std::vector<std::string>& candidates);

}  // namespace consentd::policies

#endif  // CONSENTD_POLICIES_DOCUMENT_PARSER_H_
