#include "src/propagation/dispatch_targets.h"

#include "adapters/factory.h"
#include "src/propagation/adapter_config_from_policy.h"
#include "src/propagation/limited_transport.h"

namespace consentd::propagation {

std::vector<DispatchTarget> BuildDispatchTargets(const policies::PolicySet& policy, const std::string& key_dir,
                                                 std::shared_ptr<adapters::HttpTransport> transport,
                                                 const Clock& clock, Sleeper& sleeper) {
  std::vector<DispatchTarget> out;
  for (const auto& [id, system] : policy.systems) {
    DispatchTarget t;
    t.system = system;
    t.bucket = std::make_shared<TokenBucket>(system.rate_limit.requests_per_second, system.rate_limit.burst, clock,
                                             sleeper);
    Result<adapters::AdapterConfig> config = AdapterConfigFromPolicy(system, key_dir);
    if (!config.ok()) {
      t.unavailable_reason = config.status().message();
      out.push_back(std::move(t));
      continue;
    }
    auto limited = std::make_shared<LimitedTransport>(transport, t.bucket);
    Result<std::unique_ptr<adapters::Adapter>> adapter =
        adapters::MakeAdapter(policies::SystemKindName(system.kind), *config, limited, clock);
    if (!adapter.ok()) {
      t.unavailable_reason = adapter.status().message();
    } else {
      t.adapter = std::shared_ptr<adapters::Adapter>(std::move(*adapter));
    }
    out.push_back(std::move(t));
  }
  return out;
}

}  // namespace consentd::propagation
