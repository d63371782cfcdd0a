#include "tests/emulators/emulator_process.h"

#include <fcntl.h>
#include <httplib.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <stdexcept>
#include <string>
#include <vector>

namespace consentd::emulators {

namespace {

// Reads the child's stdout until "EMULATOR_LISTENING <port>\n" or the deadline.
int ReadPort(int fd, int timeout_seconds) {
  std::string buf;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(timeout_seconds);
  while (std::chrono::steady_clock::now() < deadline) {
    pollfd p{fd, POLLIN, 0};
    int ms = static_cast<int>(
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now()).count());
    if (poll(&p, 1, ms > 0 ? ms : 0) <= 0) break;
    char chunk[256];
    ssize_t n = read(fd, chunk, sizeof(chunk));
    if (n <= 0) break;
    buf.append(chunk, static_cast<size_t>(n));
    size_t at = buf.find("EMULATOR_LISTENING ");
    if (at != std::string::npos) {
      size_t end = buf.find('\n', at);
      if (end != std::string::npos) return std::stoi(buf.substr(at + 19, end - at - 19));
    }
  }
  return -1;
}

}  // namespace

std::unique_ptr<EmulatorProcess> EmulatorProcess::Start(const std::string& kind, int timeout_seconds) {
  return StartOnPort(kind, 0, timeout_seconds);
}

std::unique_ptr<EmulatorProcess> EmulatorProcess::StartOnPort(const std::string& kind, int port,
                                                              int timeout_seconds) {
  int fds[2];
  if (pipe(fds) != 0) return nullptr;
  const pid_t parent = getpid();
  pid_t pid = fork();
  if (pid < 0) {
    close(fds[0]);
    close(fds[1]);
    return nullptr;
  }
  if (pid == 0) {
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent) _exit(127);
    dup2(fds[1], STDOUT_FILENO);
    close(fds[0]);
    close(fds[1]);
    std::string port_arg = std::to_string(port);
    execl(CONSENTD_EMULATOR_PATH, CONSENTD_EMULATOR_PATH, "--kind", kind.c_str(), "--port", port_arg.c_str(),
          static_cast<char*>(nullptr));
    _exit(127);
  }
  close(fds[1]);
  int bound = ReadPort(fds[0], timeout_seconds);
  // Keep draining nothing: the emulator writes only the one line to stdout.
  close(fds[0]);
  auto proc = std::unique_ptr<EmulatorProcess>(new EmulatorProcess());
  proc->pid_ = pid;
  if (bound <= 0) {
    std::fprintf(stderr, "emulator %s did not start\n", kind.c_str());
    return nullptr;  // the destructor of proc kills the child
  }
  proc->port_ = bound;
  return proc;
}

EmulatorProcess::~EmulatorProcess() { Kill(); }

void EmulatorProcess::Kill() {
  if (pid_ > 0) {
    kill(pid_, SIGKILL);
    int status = 0;
    waitpid(pid_, &status, 0);
    pid_ = -1;
  }
}

nlohmann::json EmulatorProcess::Call(const std::string& method, const std::string& path,
                                     const std::string& body) const {
  httplib::Client client("127.0.0.1", port_);
  client.set_connection_timeout(5);
  client.set_read_timeout(10);
  httplib::Result r = method == "GET" ? client.Get(path.c_str())
                                      : client.Post(path.c_str(), body, "application/json");
  if (!r || r->status != 200) {
    throw std::runtime_error("emulator control call " + path + " failed");
  }
  return nlohmann::json::parse(r->body);
}

nlohmann::json EmulatorProcess::State() const { return Call("GET", "/_emulator/state", ""); }
nlohmann::json EmulatorProcess::Stats() const { return Call("GET", "/_emulator/stats", ""); }
void EmulatorProcess::SetFaults(const nlohmann::json& faults) const {
  Call("POST", "/_emulator/faults", faults.dump());
}
void EmulatorProcess::Seed(const nlohmann::json& seed) const { Call("POST", "/_emulator/seed", seed.dump()); }
void EmulatorProcess::Reset() const { Call("POST", "/_emulator/reset", "{}"); }

}  // namespace consentd::emulators
