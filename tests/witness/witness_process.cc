#include "tests/witness/witness_process.h"

#include <httplib.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <iostream>

namespace consentd::testing {

std::unique_ptr<WitnessProcess> WitnessProcess::Start(const std::string& binary, const std::string& log_vkey,
                                                      const std::string& name, const std::string& state_file,
                                                      int port) {
  int out[2];
  if (pipe(out) != 0) return nullptr;
  pid_t pid = fork();
  if (pid < 0) return nullptr;
  if (pid == 0) {
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    dup2(out[1], STDOUT_FILENO);
    close(out[0]);
    close(out[1]);
    std::vector<std::string> args{binary, "--log-vkey", log_vkey, "--name", name, "--port", std::to_string(port)};
    if (!state_file.empty()) {
      args.push_back("--state");
      args.push_back(state_file);
    }
    std::vector<char*> argv;
    for (std::string& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    execv(binary.c_str(), argv.data());
    _exit(127);
  }
  close(out[1]);
  std::unique_ptr<WitnessProcess> w(new WitnessProcess());
  w->pid_ = pid;
  FILE* f = fdopen(out[0], "r");
  char line[4096];
  while (f && fgets(line, sizeof line, f)) {
    std::string l(line);
    while (!l.empty() && l.back() == '\n') l.pop_back();
    if (l.rfind("vkey ", 0) == 0) w->vkey_ = l.substr(5);
    if (l.rfind("listening ", 0) == 0) {
      w->port_ = std::stoi(l.substr(10));
      break;
    }
  }
  if (f) fclose(f);
  if (w->port_ == 0 || w->vkey_.empty()) {
    std::cerr << "test_witness did not start (" << binary << ")\n";
    return nullptr;
  }
  return w;
}

WitnessProcess::~WitnessProcess() { Kill(); }

void WitnessProcess::Kill() {
  if (pid_ <= 0) return;
  kill(pid_, SIGKILL);
  int status;
  waitpid(pid_, &status, 0);
  pid_ = -1;
}

bool WitnessProcess::Control(const std::string& command) const {
  httplib::Client c("127.0.0.1", port_);
  c.set_connection_timeout(5);
  c.set_read_timeout(5);
  auto r = c.Post("/control", command, "text/plain");
  return r && r->status == 200;
}

long long WitnessProcess::Size() const {
  httplib::Client c("127.0.0.1", port_);
  c.set_connection_timeout(5);
  c.set_read_timeout(5);
  auto r = c.Get("/state");
  if (!r || r->status != 200) return -1;
  return std::stoll(r->body);
}

}  // namespace consentd::testing
