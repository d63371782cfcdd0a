// PolicySet: everything the policy documents declare, merged and validated:
// purposes, systems, identity rules, jurisdictions and tombstone rules, with the version
// (hash) of the documents it came from. Built only by policies/loader.h; once
// built it is never modified, and every decision records `version`.
//
// Thread-safety: immutable after loading; const methods may be called
// concurrently. Share it as std::shared_ptr<const PolicySet> and swap the
// pointer to reload.
#ifndef CONSENTD_POLICIES_POLICY_SET_H_
#define CONSENTD_POLICIES_POLICY_SET_H_

#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "policies/jurisdiction.h"
#include "policies/purpose.h"
#include "policies/system.h"
#include "policies/tombstone_policy.h"
#include "src/domain/identity_rules.h"

namespace consentd::policies {

struct PolicySet {
  std::map<std::string, Purpose> purposes;            // by key
  std::map<std::string, System> systems;              // by instance id
  std::map<std::string, Jurisdiction> jurisdictions;  // by id
  domain::IdentityRules identity;                     // defaults when no section
  TombstonePolicy tombstones;                         // defaults when no section
  std::string version;             // "sha256:<64 hex>", see policies/policy_version.h
  std::vector<std::string> files;  // the documents, in load order

  // nullptr when absent. The pointers live as long as this PolicySet.
  const Purpose* FindPurpose(std::string_view key) const { return Find(purposes, key); }
  const System* FindSystem(std::string_view id) const { return Find(systems, id); }
  const Jurisdiction* FindJurisdiction(std::string_view id) const { return Find(jurisdictions, id); }

  // Keys of the purposes on `channel`, ascending.
  std::vector<std::string> PurposesOnChannel(Channel channel) const;

 private:
  template <typename T>
  static const T* Find(const std::map<std::string, T>& m, std::string_view key) {
    auto it = m.find(std::string(key));
    return it == m.end() ? nullptr : &it->second;
  }
};

}  // namespace consentd::policies

#endif  // CONSENTD_POLICIES_POLICY_SET_H_
