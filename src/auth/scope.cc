#include "src/auth/scope.h"

namespace consentd::auth {

Result<Scope> Scope::Parse(std::string_view t) {
  if (t == "officer") return Officer();
  if (t == "marketing") return Marketing();
  if (t == "auditor") return Auditor();
  if (t == "admin") return Admin();
  constexpr std::string_view kIngest = "ingest:";
  if (t.substr(0, kIngest.size()) == kIngest) {
    std::string_view id = t.substr(kIngest.size());
    if (id.empty() || id.size() > 64) return Status::InvalidArgument("scope: ingest:<system> needs a system id");
    for (char c : id) {
      if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '.' || c == '-')) {
        return Status::InvalidArgument("scope: system id must use [a-z0-9_.-]");
      }
    }
    return Ingest(std::string(id));
  }
  return Status::InvalidArgument("unknown scope '" + std::string(t.substr(0, 32)) +
                                 "' (officer, marketing, auditor, admin, ingest:<system>)");
}

std::string Scope::Name() const {
  switch (kind) {
    case ScopeKind::kOfficer: return "officer";
    case ScopeKind::kMarketing: return "marketing";
    case ScopeKind::kAuditor: return "auditor";
    case ScopeKind::kAdmin: return "admin";
    case ScopeKind::kIngest: return "ingest:" + system;
  }
  return "";
}

Result<std::vector<Scope>> ParseScopes(std::string_view text) {
  std::vector<Scope> out;
  while (true) {
    size_t comma = text.find(',');
    std::string_view part = text.substr(0, comma);
    while (!part.empty() && part.front() == ' ') part.remove_prefix(1);
    while (!part.empty() && part.back() == ' ') part.remove_suffix(1);
    Result<Scope> s = Scope::Parse(part);
    if (!s.ok()) return s.status();
    bool dup = false;
    for (const Scope& e : out) dup = dup || e == *s;
    if (!dup) out.push_back(*s);
    if (comma == std::string_view::npos) break;
    text.remove_prefix(comma + 1);
  }
  if (out.empty()) return Status::InvalidArgument("at least one scope is required");
  return out;
}

bool Principal::Has(const Scope& s) const {
  for (const Scope& mine : scopes) {
    if (mine == s) return true;
    if (s.kind == ScopeKind::kIngest && s.system == "*" && mine.kind == ScopeKind::kIngest) return true;
  }
  return false;
}

bool Principal::HasAny(const std::vector<Scope>& allowed) const {
  for (const Scope& a : allowed) {
    if (Has(a)) return true;
  }
  return false;
}

}  // namespace consentd::auth
