// AdapterConfigFromPolicy: translates a policy system (policies/system.h)
// into what its adapter needs (adapters/adapter_config.h): base URL, API
// version, the kind's typed options as settings, and the credential
// secrets, read from the files the policy references (relative paths under
// the key directory, policies/credential_ref.h).
//
// Secrets are only ever held in the returned config: errors name the
// system, the credential and the file, never a value.
//
// Thread-safety: pure functions (they read files).
#ifndef CONSENTD_PROPAGATION_ADAPTER_CONFIG_FROM_POLICY_H_
#define CONSENTD_PROPAGATION_ADAPTER_CONFIG_FROM_POLICY_H_

#include <string>

#include "adapters/adapter_config.h"
#include "policies/system.h"
#include "src/base/result.h"

namespace consentd::propagation {

// kInvalidArgument for a credential reference that is not acceptable;
// kNotFound when a credential file cannot be read; an empty file is kept
// as an empty value (MakeAdapter then names the missing credential).
Result<adapters::AdapterConfig> AdapterConfigFromPolicy(const policies::System& system, const std::string& key_dir);

// The typed options of `system` as adapter settings (no file access).
adapters::AdapterSettings SettingsFromOptions(const policies::SystemOptions& options);

}  // namespace consentd::propagation

#endif  // CONSENTD_PROPAGATION_ADAPTER_CONFIG_FROM_POLICY_H_
