#include "src/app/policy_reloader.h"

#include <nlohmann/json.hpp>

#include "policies/loader.h"
#include "src/propagation/dispatch_targets.h"

namespace consentd::app {

Status PolicyReloader::Reload() {
  std::lock_guard<std::mutex> lock(mu_);
  const service::Config& config = runtime_.config();
  auto policy = std::make_shared<policies::PolicySet>();
  if (!config.policies.empty()) {
    Result<policies::PolicySet> loaded = policies::LoadPolicies(config.policies);
    if (!loaded.ok()) {
      if (logger_) logger_->Error("policy.reload_failed", {{"error", loaded.status().ToString()}});
      return loaded.status();
    }
    *policy = std::move(*loaded);
  }
  runtime_.consents().SetPolicy(policy);
  runtime_.erasure().SetPolicy(policy);
  propagation::Dispatcher::TargetChanges changes = dispatcher_.SetTargets(
      propagation::BuildDispatchTargets(*policy, config.key_dir, transport_, runtime_.clock(), sleeper_));
  if (logger_) {
    nlohmann::json started = changes.started, stopped = changes.stopped;
    logger_->Info("policy.reloaded", {{"systems", policy->systems.size()},
                                      {"lanes_started", started},
                                      {"lanes_stopped", stopped}});
  }
  return Status::Ok();
}

}  // namespace consentd::app
