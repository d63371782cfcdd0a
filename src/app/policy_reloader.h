// PolicyReloader: consentd's policy reload (SIGHUP, docs/operations.md and
// docs/propagation.md "Policy reload"). Re-reads the configured policy
// documents; when they load, the consent and erasure services take the new
// policy (routing of new changes included, the outbox reads it from the
// consent service) and the dispatcher's lanes follow its systems
// (Dispatcher::SetTargets): a new system gets a lane, a removed system's
// lane stops and its rows stay pending, a kept system keeps its lane.
// When they do not load, nothing changes and the error is returned.
//
// What a reload does not change: identity rules (the subject registry reads
// them at start), webhook ingest's systems and signing secrets (read at
// start), and the adapter, rate limit and concurrency of a system that
// keeps running (a restart applies those).
//
// Thread-safety: Reload calls are serialized internally.
#ifndef CONSENTD_APP_POLICY_RELOADER_H_
#define CONSENTD_APP_POLICY_RELOADER_H_

#include <memory>
#include <mutex>
#include <string>

#include "adapters/http_transport.h"
#include "src/base/clock.h"
#include "src/base/status.h"
#include "src/obs/logger.h"
#include "src/propagation/dispatcher.h"
#include "src/propagation/sleeper.h"
#include "src/service/runtime.h"

namespace consentd::app {

class PolicyReloader {
 public:
  // All references must outlive the reloader; `logger` may be null.
  PolicyReloader(service::Runtime& runtime, propagation::Dispatcher& dispatcher,
                 std::shared_ptr<adapters::HttpTransport> transport, propagation::Sleeper& sleeper,
                 const obs::Logger* logger)
      : runtime_(runtime), dispatcher_(dispatcher), transport_(std::move(transport)), sleeper_(sleeper),
        logger_(logger) {}

  // Loads the policy documents of the runtime's configuration and applies
  // them. Errors (the documents' problems, naming file and pointer) leave
  // the current policy in force.
  Status Reload();

 private:
  service::Runtime& runtime_;
  propagation::Dispatcher& dispatcher_;
  std::shared_ptr<adapters::HttpTransport> transport_;
  propagation::Sleeper& sleeper_;
  const obs::Logger* logger_;
  std::mutex mu_;
};

}  // namespace consentd::app

#endif  // CONSENTD_APP_POLICY_RELOADER_H_
