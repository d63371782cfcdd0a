// BuildDispatchTargets: one DispatchTarget per system of the policy: its
// token bucket (policy rate_limit), a LimitedTransport over the transport
// shared by every adapter, and its adapter (adapters/factory.h) configured
// from the policy and the credential files. A system whose adapter cannot
// be built (a missing credential file, a bad setting) becomes an unavailable
// target with the reason (no secret in it): its rows wait, the others run.
//
// Thread-safety: a pure function (it reads credential files).
#ifndef CONSENTD_PROPAGATION_DISPATCH_TARGETS_H_
#define CONSENTD_PROPAGATION_DISPATCH_TARGETS_H_

#include <memory>
#include <string>
#include <vector>

#include "adapters/http_transport.h"
#include "policies/policy_set.h"
#include "src/base/clock.h"
#include "src/propagation/dispatcher.h"
#include "src/propagation/sleeper.h"

namespace consentd::propagation {

// `transport`, `clock` and `sleeper` must outlive the targets.
std::vector<DispatchTarget> BuildDispatchTargets(const policies::PolicySet& policy, const std::string& key_dir,
                                                 std::shared_ptr<adapters::HttpTransport> transport,
                                                 const Clock& clock, Sleeper& sleeper);

}  // namespace consentd::propagation

#endif  // CONSENTD_PROPAGATION_DISPATCH_TARGETS_H_
