#include "policies/check.h"

#include <set>

#include "policies/loader.h"

namespace consentd::policies {
namespace {

std::string Plural(size_t n, const char* one, const char* many) {
  return std::to_string(n) + " " + (n == 1 ? one : many);
}

}  // namespace

std::string CheckReport::ToText() const {
  std::string out;
  if (ok()) {
    out = "policy OK: " + Plural(files.size(), "file", "files") + ", " + Plural(purposes, "purpose", "purposes") +
          ", " + Plural(systems, "system", "systems") + ", " +
          Plural(jurisdictions, "jurisdiction", "jurisdictions") + "\n";
    out += "version " + version + "\n";
    return out;
  }
  std::set<std::string> with_errors;
  for (const PolicyError& e : errors) {
    out += e.ToString() + "\n";
    with_errors.insert(e.file);
  }
  out += Plural(errors.size(), "error", "errors") + " in " + Plural(with_errors.size(), "file", "files") + "\n";
  return out;
}

CheckReport CheckFiles(std::span<const std::string> paths) {
  CheckReport report;
  report.files.assign(paths.begin(), paths.end());
  LoadResult r = LoadPolicyFiles(paths);
  report.errors = std::move(r.errors);
  report.version = r.policy.version;
  if (report.ok()) {
    report.purposes = r.policy.purposes.size();
    report.systems = r.policy.systems.size();
    report.jurisdictions = r.policy.jurisdictions.size();
  }
  return report;
}

}  // namespace consentd::policies
