// CheckFiles: the library side of `consentctl policy check FILE...`: load
// and validate the documents exactly as consentd does at start-up, and
// render a report for a terminal.
//
// Thread-safety: a pure function of the files' contents.
#ifndef CONSENTD_POLICIES_CHECK_H_
#define CONSENTD_POLICIES_CHECK_H_

#include <cstddef>
#include <span>
#include <string>
#include <vector>

#include "policies/policy_error.h"

namespace consentd::policies {

struct CheckReport {
  std::vector<std::string> files;   // as given
  std::vector<PolicyError> errors;  // empty when the policy is valid
  std::string version;              // "sha256:...", of the files that could be read
  size_t purposes = 0;              // counts of the merged policy (when valid)
  size_t systems = 0;
  size_t jurisdictions = 0;

  bool ok() const { return errors.empty(); }
  // The process exit code: 0 when valid, 1 when not.
  int ExitCode() const { return ok() ? 0 : 1; }
  // When valid: "policy OK: 1 file, 5 purposes, 4 systems, 2 jurisdictions\n
  // version sha256:...\n". Otherwise one line per error (PolicyError::ToString)
  // followed by "N errors in M files\n".
  std::string ToText() const;
};

CheckReport CheckFiles(std::span<const std::string> paths);

}  // namespace consentd::policies

#endif  // CONSENTD_POLICIES_CHECK_H_
