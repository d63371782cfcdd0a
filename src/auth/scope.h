// Scope: what a bearer token may do (docs/api.md "Authentication").
//   officer      erasure requests, subject history (personal data)
//   marketing    consent queries only
//   auditor      ledger reads
//   admin        tokens, policies, operations (no personal data)
//   ingest:<id>  the webhooks of one configured system instance
// Scopes do not imply each other: least privilege, so an admin token cannot
// read personal data and an officer token cannot mint tokens.
//
// Thread-safety: value types.
#ifndef CONSENTD_AUTH_SCOPE_H_
#define CONSENTD_AUTH_SCOPE_H_

#include <string>
#include <string_view>
#include <vector>

#include "src/base/result.h"

namespace consentd::auth {

enum class ScopeKind { kOfficer, kMarketing, kAuditor, kAdmin, kIngest };

struct Scope {
  ScopeKind kind = ScopeKind::kMarketing;
  std::string system;  // only for kIngest: the system instance id

  // Parses "officer", "marketing", "auditor", "admin" or "ingest:<id>" with
  // <id> = [a-z0-9_.-]{1,64}.
  static Result<Scope> Parse(std::string_view text);
  std::string Name() const;
  bool operator==(const Scope& o) const { return kind == o.kind && system == o.system; }

  static Scope Officer() { return {ScopeKind::kOfficer, ""}; }
  static Scope Marketing() { return {ScopeKind::kMarketing, ""}; }
  static Scope Auditor() { return {ScopeKind::kAuditor, ""}; }
  static Scope Admin() { return {ScopeKind::kAdmin, ""}; }
  static Scope Ingest(std::string system) { return {ScopeKind::kIngest, std::move(system)}; }
  // For route requirements only: any ingest:<system> scope.
  static Scope AnyIngest() { return {ScopeKind::kIngest, "*"}; }
};

// Parses a comma-separated list; fails on an empty list or a bad scope.
Result<std::vector<Scope>> ParseScopes(std::string_view comma_separated);

// Who made a request: the token's id and name, and its scopes.
struct Principal {
  std::string token_id;
  std::string name;
  std::vector<Scope> scopes;
  // Scope::AnyIngest() matches every ingest:<system> scope.
  bool Has(const Scope& s) const;
  // True if any of `allowed` is held.
  bool HasAny(const std::vector<Scope>& allowed) const;
};

}  // namespace consentd::auth

#endif  // CONSENTD_AUTH_SCOPE_H_
