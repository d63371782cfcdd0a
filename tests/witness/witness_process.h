// WitnessProcess: runs tests/witness/test_witness as a child process (a
// separate process, as a real witness would be) and talks to its control
// endpoint. The child gets SIGKILL when the test process dies
// (PR_SET_PDEATHSIG) and in the destructor.
//
// Thread-safety: one owner; not thread-safe.
#ifndef CONSENTD_TESTS_WITNESS_WITNESS_PROCESS_H_
#define CONSENTD_TESTS_WITNESS_WITNESS_PROCESS_H_

#include <sys/types.h>

#include <memory>
#include <string>

namespace consentd::testing {

class WitnessProcess {
 public:
  // Starts test_witness for the log whose checkpoint key is `log_vkey`.
  // `state_file` may be empty (state in memory). `port` 0 picks a free port.
  // Returns nullptr (with the reason on stderr) when it does not start.
  static std::unique_ptr<WitnessProcess> Start(const std::string& binary, const std::string& log_vkey,
                                               const std::string& name, const std::string& state_file = "",
                                               int port = 0);
  ~WitnessProcess();
  WitnessProcess(const WitnessProcess&) = delete;
  WitnessProcess& operator=(const WitnessProcess&) = delete;

  const std::string& vkey() const { return vkey_; }
  int port() const { return port_; }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }

  // POST /control with `command` ("normal", "down", "slow <ms>", "reset").
  bool Control(const std::string& command) const;
  // The witness's stored size (GET /state); -1 on failure.
  long long Size() const;
  // SIGKILL and reap (the witness is then "down" at the TCP level).
  void Kill();

 private:
  WitnessProcess() = default;
  pid_t pid_ = -1;
  int port_ = 0;
  std::string vkey_;
};

}  // namespace consentd::testing

#endif  // CONSENTD_TESTS_WITNESS_WITNESS_PROCESS_H_
