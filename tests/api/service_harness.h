// ServiceHarness: runs the REAL consentd binary as a child process on a
// temporary data directory, for the API tests (tests/api, tests/service).
//
//   auto h = ServiceHarness::Create();        // consentctl init, listen 127.0.0.1:0
//   std::string officer = h->CreateToken("o", "officer");   // before Start
//   h->Start();                               // fork/exec, waits for "consentd.listening"
//   httplib::Client c = h->Client();
//   ...
//   h->Stop();                                // SIGTERM, waits (SIGKILL after a timeout)
//
// Every wait is bounded. The child gets SIGKILL when the test process dies
// (PR_SET_PDEATHSIG) and in the destructor, so no consentd outlives a test.
// Everything consentd writes on stdout and stderr is kept (Output()), so a
// test can grep it for identifiers that must never be logged.
//
// Binary paths come from CONSENTD_PATH and CONSENTCTL_PATH (compile
// definitions set by the tests' CMakeLists).
//
// Thread-safety: one harness per test; Output() may be called from any thread.
#ifndef CONSENTD_TESTS_API_SERVICE_HARNESS_H_
#define CONSENTD_TESTS_API_SERVICE_HARNESS_H_

#include <httplib.h>
#include <sys/types.h>

#include <condition_variable>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

namespace consentd::testing {

// A fresh directory under $TMPDIR (or /tmp), removed with its contents in the
// destructor.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

struct CommandResult {
  int exit_code = -1;  // -1: killed (timeout) or not started
  std::string out;
  std::string err;
};

// Runs argv[0] with argv (no shell), capturing stdout and stderr, killing it
// after `timeout_seconds`.
CommandResult RunCommand(const std::vector<std::string>& argv, int timeout_seconds = 60);

// consentctl with these arguments.
CommandResult Consentctl(const std::vector<std::string>& args, int timeout_seconds = 60);

struct HarnessOptions {
  // Extra top-level members merged into consentd.json (e.g. limits).
  nlohmann::json config_overrides = nlohmann::json::object();
  int start_timeout_seconds = 30;
};

class ServiceHarness {
 public:
  // A fresh data directory (consentctl init) in a temporary directory, with
  // "listen" set to 127.0.0.1:0. Fails the current test on error.
  static std::unique_ptr<ServiceHarness> Create(HarnessOptions options = {});
  ~ServiceHarness();  // kills a running consentd, removes the directories
  ServiceHarness(const ServiceHarness&) = delete;
  ServiceHarness& operator=(const ServiceHarness&) = delete;

  const std::string& data_dir() const { return data_dir_; }
  const std::string& key_dir() const { return key_dir_; }
  std::string config_path() const { return data_dir_ + "/consentd.json"; }
  std::string database_path() const { return data_dir_ + "/consentd.db"; }

  // `consentctl token create`; returns the token. Use while consentd is
  // stopped (consentctl and consentd must not write one ledger at once).
  std::string CreateToken(const std::string& name, const std::string& scope);
  // `consentctl token revoke` (consentd stopped).
  void RevokeToken(const std::string& token);

  // Starts consentd and waits for its "consentd.listening" line. Returns
  // false (with the output in Output()) if it exits or times out.
  bool Start();
  // SIGTERM, then waits up to `timeout_seconds` (SIGKILL after). Returns the
  // exit status (128 + signal when killed by one), -1 if not running.
  int Stop(int timeout_seconds = 20);
  // SIGKILL and reap.
  void Kill();
  bool running() const { return pid_ > 0; }
  pid_t pid() const { return pid_; }
  int port() const { return port_; }

  // A client for 127.0.0.1:port() with TCP_NODELAY and bounded timeouts.
  std::unique_ptr<httplib::Client> Client() const;

  // Everything consentd wrote so far (all runs of this harness).
  std::string Output() const;

  // GET /readyz ledger_size; -1 on failure.
  long long LedgerSize() const;

 private:
  ServiceHarness() = default;
  void ReadOutput(int fd);

  std::unique_ptr<TempDir> tmp_;
  std::string data_dir_;
  std::string key_dir_;
  HarnessOptions options_;
  pid_t pid_ = -1;
  int port_ = 0;
  std::thread reader_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::string output_;     // guarded by mu_
  bool output_eof_ = true; // guarded by mu_
};

// "Bearer <token>" headers for httplib.
httplib::Headers Bearer(const std::string& token);

// Parses a response body; a discarded value when it is not JSON.
nlohmann::json ParseJson(const std::string& body);

}  // namespace consentd::testing

#endif  // CONSENTD_TESTS_API_SERVICE_HARNESS_H_
