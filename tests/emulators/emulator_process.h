// EmulatorProcess: runs tests/emulators' consentd-emulator as a child
// process on 127.0.0.1 for integration tests, and talks to its control API.
//
//   auto shop = EmulatorProcess::Start("shopify");   // waits for "EMULATOR_LISTENING <port>"
//   shop->base_url();                                 // "http://127.0.0.1:<port>"
//   shop->SetFaults({{"error_rate", 0.2}});
//   nlohmann::json state = shop->State();
//
// The child gets SIGKILL when the test process dies (PR_SET_PDEATHSIG) and in
// the destructor. Every wait is bounded.
//
// Thread-safety: one object per emulator; methods may be called from any thread.
#ifndef CONSENTD_TESTS_EMULATORS_EMULATOR_PROCESS_H_
#define CONSENTD_TESTS_EMULATORS_EMULATOR_PROCESS_H_

#include <sys/types.h>

#include <memory>
#include <nlohmann/json.hpp>
#include <string>

namespace consentd::emulators {

class EmulatorProcess {
 public:
  // Starts `kind` on a free port. nullptr (with the reason on stderr) when it
  // did not come up within `timeout_seconds`.
  static std::unique_ptr<EmulatorProcess> Start(const std::string& kind, int timeout_seconds = 20);
  // Starts `kind` on a given port (to restart a "recovered" system on the
  // port consentd was configured with).
  static std::unique_ptr<EmulatorProcess> StartOnPort(const std::string& kind, int port, int timeout_seconds = 20);
  ~EmulatorProcess();
  EmulatorProcess(const EmulatorProcess&) = delete;
  EmulatorProcess& operator=(const EmulatorProcess&) = delete;

  int port() const { return port_; }
  std::string base_url() const { return "http://127.0.0.1:" + std::to_string(port_); }
  pid_t pid() const { return pid_; }

  // The control API (emulator.h). Throw std::runtime_error when the call fails.
  nlohmann::json State() const;
  nlohmann::json Stats() const;
  void SetFaults(const nlohmann::json& faults) const;
  void Seed(const nlohmann::json& seed) const;
  void Reset() const;

  // SIGKILL and wait: the system is "down" (its port refuses connections).
  void Kill();

 private:
  EmulatorProcess() = default;
  nlohmann::json Call(const std::string& method, const std::string& path, const std::string& body) const;
  pid_t pid_ = -1;
  int port_ = 0;
};

}  // namespace consentd::emulators

#endif  // CONSENTD_TESTS_EMULATORS_EMULATOR_PROCESS_H_
