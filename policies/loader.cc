#include "policies/loader.h"

#include <cerrno>
#include <cstring>
#include <fstream>
#include <utility>

#include "policies/document_parser.h"
#include "policies/policy_version.h"
#include "policies/text.h"

namespace consentd::policies {
namespace {

using text::Quote;

template <typename T>
void MergeSection(const std::string& file, const char* section, const char* what, std::map<std::string, T>& from,
                  std::map<std::string, T>* into, std::vector<PolicyError>* errors) {
  for (auto& [key, value] : from) {
    auto it = into->find(key);
    if (it != into->end()) {
      errors->push_back(PolicyError{file, JsonPointerChild(std::string("/") + section, key),
                                    std::string(what) + " " + Quote(key) + " is already defined in " +
                                        it->second.defined_in,
                                    0, 0});
      continue;
    }
    into->emplace(key, std::move(value));
  }
}

std::vector<std::string> Keys(const std::map<std::string, Purpose>& m) {
  std::vector<std::string> out;
  for (const auto& [k, v] : m) out.push_back(k);
  return out;
}

// Checks that need every document: references to purposes and
// jurisdictions, and per-kind options that depend on purpose channels.
void CheckReferences(const PolicySet& set,
                     const std::map<std::pair<std::string, std::string>, size_t>& receives_index,
                     std::vector<PolicyError>* errors) {
  std::vector<std::string> purpose_keys = Keys(set.purposes);
  for (const auto& [id, sys] : set.systems) {
    std::string sp = JsonPointerChild("/systems", id);
    for (size_t i = 0; i < sys.receives.size(); ++i) {
      const std::string& purpose = sys.receives[i];
      if (set.FindPurpose(purpose) != nullptr) continue;
      auto idx = receives_index.find({id, purpose});
      size_t index = idx == receives_index.end() ? i : idx->second;
      std::string hint = ClosestMatch(purpose, purpose_keys);
      errors->push_back(PolicyError{sys.defined_in, JsonPointerChild(sp + "/receives", index),
                                    "unknown purpose " + Quote(purpose) +
                                        (hint.empty() ? std::string(" (not declared in any policy document)")
                                                      : " (did you mean " + Quote(hint) + "?)"),
                                    0, 0});
    }
    if (const auto* hub = std::get_if<HubSpotOptions>(&sys.options)) {
      for (const std::string& purpose : sys.receives) {
        const Purpose* p = set.FindPurpose(purpose);
        if (p == nullptr || p->channel != Channel::kEmail) continue;
        if (hub->subscription_ids.count(purpose) == 0) {
          errors->push_back(PolicyError{sys.defined_in, sp + "/options",
                                        "missing subscription_ids entry for email purpose " + Quote(purpose) +
                                            " (HubSpot needs the subscription type id of every email purpose it "
                                            "receives)",
                                        0, 0});
        }
      }
    }
  }
  for (const auto& [key, purpose] : set.purposes) {
    for (const auto& [jid, state] : purpose.default_by_jurisdiction) {
      (void)state;
      if (set.FindJurisdiction(jid) != nullptr) continue;
      errors->push_back(PolicyError{purpose.defined_in,
                                    JsonPointerChild(JsonPointerChild("/purposes", key) + "/default_by_jurisdiction", jid),
                                    "unknown jurisdiction " + Quote(jid) + " (not declared in any policy document)", 0,
                                    0});
    }
  }
}

}  // namespace

LoadResult ParsePolicyDocuments(std::span<const PolicyDocument> documents) {
  LoadResult result;
  PolicySet& set = result.policy;
  std::vector<std::string> bytes;
  std::string identity_file;
  std::string tombstones_file;
  std::map<std::pair<std::string, std::string>, size_t> receives_index;
  if (documents.empty()) {
    result.errors.push_back(PolicyError{"(no files)", "", "no policy documents given", 0, 0});
  }
  for (const PolicyDocument& doc : documents) {
    bytes.push_back(doc.bytes);
    set.files.push_back(doc.name);
    if (doc.bytes.size() > kMaxPolicyFileBytes) {
      result.errors.push_back(PolicyError{doc.name, "",
                                          "file is larger than 1 MiB (" + std::to_string(doc.bytes.size()) +
                                              " bytes); a policy document is expected to be a few kilobytes",
                                          0, 0});
      continue;
    }
    ParsedDocument parsed = ParseDocument(doc.name, doc.bytes, &result.errors);
    MergeSection(doc.name, "purposes", "purpose", parsed.purposes, &set.purposes, &result.errors);
    MergeSection(doc.name, "systems", "system", parsed.systems, &set.systems, &result.errors);
    MergeSection(doc.name, "jurisdictions", "jurisdiction", parsed.jurisdictions, &set.jurisdictions,
                 &result.errors);
    for (auto& [key, index] : parsed.receives_index) receives_index.emplace(key, index);
    if (parsed.identity) {
      if (!identity_file.empty()) {
        result.errors.push_back(
            PolicyError{doc.name, "/identity", "the identity section is already defined in " + identity_file, 0, 0});
      } else {
        identity_file = doc.name;
        set.identity = *parsed.identity;
      }
    }
    if (parsed.tombstones) {
      if (!tombstones_file.empty()) {
        result.errors.push_back(PolicyError{doc.name, "/tombstones",
                                            "the tombstones section is already defined in " + tombstones_file, 0, 0});
      } else {
        tombstones_file = doc.name;
        set.tombstones = *parsed.tombstones;
      }
    }
  }
  set.version = PolicyVersion(bytes);
  if (!documents.empty() && set.purposes.empty() && result.errors.empty()) {
    result.errors.push_back(
        PolicyError{documents.front().name, "", "no purposes are declared in any policy document", 0, 0});
  }
  CheckReferences(set, receives_index, &result.errors);
  return result;
}

LoadResult LoadPolicyFiles(std::span<const std::string> paths) {
  std::vector<PolicyDocument> docs;
  std::vector<PolicyError> read_errors;
  for (const std::string& path : paths) {
    std::ifstream in(path, std::ios::binary);
    if (!in) {
      read_errors.push_back(PolicyError{path, "", std::string("cannot open file: ") + std::strerror(errno), 0, 0});
      continue;
    }
    // Read at most one byte more than the limit, so that a huge file is
    // neither read whole nor mistaken for a valid one.
    std::string bytes(kMaxPolicyFileBytes + 1, '\0');
    in.read(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    if (in.bad()) {
      read_errors.push_back(PolicyError{path, "", "cannot read file", 0, 0});
      continue;
    }
    bytes.resize(static_cast<size_t>(in.gcount()));
    if (bytes.size() > kMaxPolicyFileBytes) {
      read_errors.push_back(PolicyError{path, "",
                                        "file is larger than 1 MiB; a policy document is expected to be a few "
                                        "kilobytes",
                                        0, 0});
      continue;
    }
    docs.push_back(PolicyDocument{path, std::move(bytes)});
  }
  LoadResult result;
  if (!docs.empty() || read_errors.empty()) result = ParsePolicyDocuments(docs);
  // Read errors come first: they explain why a file's content is missing.
  result.errors.insert(result.errors.begin(), read_errors.begin(), read_errors.end());
  return result;
}

Result<PolicySet> LoadPolicies(std::span<const std::string> paths) {
  LoadResult r = LoadPolicyFiles(paths);
  if (!r.ok()) return Status::InvalidArgument("invalid policy:\n" + FormatErrors(r.errors));
  return std::move(r.policy);
}

}  // namespace consentd::policies
