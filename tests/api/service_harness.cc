#include "tests/api/service_harness.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace consentd::testing {
namespace {

using Clock = std::chrono::steady_clock;

std::vector<char*> Argv(std::vector<std::string>& args) {
  std::vector<char*> out;
  for (std::string& a : args) out.push_back(a.data());
  out.push_back(nullptr);
  return out;
}

// Exit status as a shell reports it.
int DecodeStatus(int status) {
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return -1;
}

// Waits for `pid` up to the deadline; SIGKILL after it. Returns the decoded
// status, or -1 with *killed set.
int WaitWithDeadline(pid_t pid, Clock::time_point deadline, bool* killed) {
  *killed = false;
  while (true) {
    int status = 0;
    pid_t r = ::waitpid(pid, &status, WNOHANG);
    if (r == pid) return DecodeStatus(status);
    if (r < 0 && errno != EINTR) return -1;
    if (Clock::now() >= deadline) {
      ::kill(pid, SIGKILL);
      while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
      }
      *killed = true;
      return DecodeStatus(status);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
}

}  // namespace

TempDir::TempDir() {
  const char* base = std::getenv("TMPDIR");
  std::string tmpl = std::string(base && *base ? base : "/tmp") + "/consentd-test-XXXXXX";
  std::vector<char> buf(tmpl.begin(), tmpl.end());
  buf.push_back('\0');
  if (!::mkdtemp(buf.data())) FAIL("mkdtemp failed: " << std::strerror(errno));
  path_ = buf.data();
}

TempDir::~TempDir() {
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

CommandResult RunCommand(const std::vector<std::string>& argv_in, int timeout_seconds) {
  CommandResult result;
  std::vector<std::string> args = argv_in;
  std::vector<char*> argv = Argv(args);
  int out_pipe[2], err_pipe[2];
  if (::pipe2(out_pipe, O_CLOEXEC) != 0) return result;
  if (::pipe2(err_pipe, O_CLOEXEC) != 0) {
    ::close(out_pipe[0]);
    ::close(out_pipe[1]);
    return result;
  }
  const pid_t pid = ::fork();
  if (pid == 0) {
    // Only async-signal-safe calls until exec.
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    int devnull = ::open("/dev/null", O_RDONLY);
    if (devnull >= 0) ::dup2(devnull, 0);
    ::dup2(out_pipe[1], 1);
    ::dup2(err_pipe[1], 2);
    ::execv(argv[0], argv.data());
    ::_exit(127);
  }
  ::close(out_pipe[1]);
  ::close(err_pipe[1]);
  if (pid < 0) {
    ::close(out_pipe[0]);
    ::close(err_pipe[0]);
    return result;
  }
  const auto deadline = Clock::now() + std::chrono::seconds(timeout_seconds);
  struct pollfd fds[2] = {{out_pipe[0], POLLIN, 0}, {err_pipe[0], POLLIN, 0}};
  std::string* sinks[2] = {&result.out, &result.err};
  int open_fds = 2;
  while (open_fds > 0 && Clock::now() < deadline) {
    int r = ::poll(fds, 2, 100);
    if (r < 0 && errno != EINTR) break;
    for (int i = 0; i < 2; ++i) {
      if (fds[i].fd < 0 || !(fds[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
      char buf[65536];
      ssize_t n = ::read(fds[i].fd, buf, sizeof buf);
      if (n > 0) {
        sinks[i]->append(buf, static_cast<size_t>(n));
      } else if (n == 0 || errno != EINTR) {
        ::close(fds[i].fd);
        fds[i].fd = -1;
        --open_fds;
      }
    }
  }
  for (auto& f : fds) {
    if (f.fd >= 0) ::close(f.fd);
  }
  bool killed = false;
  int code = WaitWithDeadline(pid, deadline, &killed);
  result.exit_code = killed ? -1 : code;
  return result;
}

CommandResult Consentctl(const std::vector<std::string>& args, int timeout_seconds) {
  std::vector<std::string> argv = {CONSENTCTL_PATH};
  argv.insert(argv.end(), args.begin(), args.end());
  return RunCommand(argv, timeout_seconds);
}

std::unique_ptr<ServiceHarness> ServiceHarness::Create(HarnessOptions options) {
  std::unique_ptr<ServiceHarness> h(new ServiceHarness());
  h->options_ = std::move(options);
  h->tmp_ = std::make_unique<TempDir>();
  h->data_dir_ = h->tmp_->path() + "/data";
  h->key_dir_ = h->tmp_->path() + "/data.keys";
  CommandResult init = Consentctl({"init", "--data-dir", h->data_dir_, "--origin", "test.example/ledger"});
  INFO(init.err);
  REQUIRE(init.exit_code == 0);
  std::ifstream in(h->config_path());
  std::stringstream text;
  text << in.rdbuf();
  nlohmann::json config = nlohmann::json::parse(text.str());
  config["listen"] = "127.0.0.1:0";
  config["http_threads"] = 8;
  for (auto it = h->options_.config_overrides.begin(); it != h->options_.config_overrides.end(); ++it) {
    config[it.key()] = it.value();
  }
  std::ofstream out(h->config_path(), std::ios::trunc);
  out << config.dump(2) << "\n";
  out.close();
  REQUIRE(out.good());
  return h;
}

ServiceHarness::~ServiceHarness() {
  if (running()) Kill();
  if (reader_.joinable()) reader_.join();
}

std::string ServiceHarness::CreateToken(const std::string& name, const std::string& scope) {
  REQUIRE_FALSE(running());
  CommandResult r = Consentctl({"token", "create", "--data-dir", data_dir_, "--name", name, "--scope", scope});
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  std::string token = r.out;
  while (!token.empty() && (token.back() == '\n' || token.back() == '\r')) token.pop_back();
  REQUIRE(token.rfind("cdt_", 0) == 0);
  return token;
}

void ServiceHarness::RevokeToken(const std::string& token) {
  REQUIRE_FALSE(running());
  REQUIRE(token.size() > 20);
  CommandResult r = Consentctl({"token", "revoke", "--data-dir", data_dir_, "--id", token.substr(4, 16)});
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
}

void ServiceHarness::ReadOutput(int fd) {
  char buf[65536];
  while (true) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    std::lock_guard<std::mutex> l(mu_);
    output_.append(buf, static_cast<size_t>(n));
    cv_.notify_all();
  }
  ::close(fd);
  std::lock_guard<std::mutex> l(mu_);
  output_eof_ = true;
  cv_.notify_all();
}

bool ServiceHarness::Start() {
  REQUIRE_FALSE(running());
  if (reader_.joinable()) reader_.join();
  std::vector<std::string> args = {CONSENTD_PATH, "--config", config_path()};
  std::vector<char*> argv = Argv(args);
  int pipe_fds[2];
  REQUIRE(::pipe2(pipe_fds, O_CLOEXEC) == 0);
  size_t start_offset;
  {
    std::lock_guard<std::mutex> l(mu_);
    start_offset = output_.size();
    output_eof_ = false;
  }
  const pid_t pid = ::fork();
  if (pid == 0) {
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    int devnull = ::open("/dev/null", O_RDONLY);
    if (devnull >= 0) ::dup2(devnull, 0);
    ::dup2(pipe_fds[1], 1);
    ::dup2(pipe_fds[1], 2);
    ::execv(argv[0], argv.data());
    ::_exit(127);
  }
  ::close(pipe_fds[1]);
  if (pid < 0) {
    ::close(pipe_fds[0]);
    FAIL("fork failed");
  }
  pid_ = pid;
  reader_ = std::thread([this, fd = pipe_fds[0]] { ReadOutput(fd); });
  // Wait for {"event":"consentd.listening","port":N}.
  const auto deadline = Clock::now() + std::chrono::seconds(options_.start_timeout_seconds);
  std::unique_lock<std::mutex> l(mu_);
  size_t scanned = start_offset;
  while (true) {
    size_t nl;
    while ((nl = output_.find('\n', scanned)) != std::string::npos) {
      nlohmann::json j = nlohmann::json::parse(output_.substr(scanned, nl - scanned), nullptr, false);
      scanned = nl + 1;
      if (j.is_object() && j.value("event", "") == "consentd.listening" && j.contains("port") &&
          j["port"].is_number_integer()) {
        port_ = j["port"].get<int>();
        return true;
      }
    }
    if (output_eof_) break;
    if (cv_.wait_until(l, deadline) == std::cv_status::timeout) break;
  }
  l.unlock();
  Kill();
  return false;
}

int ServiceHarness::Stop(int timeout_seconds) {
  if (!running()) return -1;
  ::kill(pid_, SIGTERM);
  bool killed = false;
  int code = WaitWithDeadline(pid_, Clock::now() + std::chrono::seconds(timeout_seconds), &killed);
  pid_ = -1;
  port_ = 0;
  if (reader_.joinable()) reader_.join();
  return killed ? -1 : code;
}

void ServiceHarness::Kill() {
  if (!running()) return;
  ::kill(pid_, SIGKILL);
  int status;
  while (::waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
  }
  pid_ = -1;
  port_ = 0;
  if (reader_.joinable()) reader_.join();
}

std::unique_ptr<httplib::Client> ServiceHarness::Client() const {
  auto c = std::make_unique<httplib::Client>("127.0.0.1", port_);
  c->set_tcp_nodelay(true);
  c->set_connection_timeout(5, 0);
  c->set_read_timeout(60, 0);
  c->set_write_timeout(60, 0);
  c->set_keep_alive(true);
  return c;
}

std::string ServiceHarness::Output() const {
  std::lock_guard<std::mutex> l(mu_);
  return output_;
}

long long ServiceHarness::LedgerSize() const {
  auto c = Client();
  httplib::Result r = c->Get("/readyz");
  if (!r || r->status != 200) return -1;
  nlohmann::json j = ParseJson(r->body);
  if (!j.is_object() || !j.contains("ledger_size") || !j["ledger_size"].is_number_integer()) return -1;
  return j["ledger_size"].get<long long>();
}

httplib::Headers Bearer(const std::string& token) { return {{"Authorization", "Bearer " + token}}; }

nlohmann::json ParseJson(const std::string& body) { return nlohmann::json::parse(body, nullptr, false); }

}  // namespace consentd::testing
