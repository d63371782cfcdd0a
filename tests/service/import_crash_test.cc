// consentctl import killed with SIGKILL in the middle of a file, then run
// again: the second run completes the file (what the first made durable
// counts as already recorded), nothing is recorded twice, the ledger
// verifies, the consent state equals the ledger's replay, and a third run
// records nothing. Runs the real binary (CONSENTCTL_PATH).
#include <signal.h>
#include <sqlite3.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <set>
#include <string>
#include <thread>
#include <vector>

namespace {

// Runs argv, stdout to `out_path`; returns the pid.
pid_t Spawn(const std::vector<std::string>& argv, const std::string& out_path) {
  pid_t pid = ::fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    FILE* out = std::freopen(out_path.c_str(), "w", stdout);
    if (out == nullptr) _exit(127);
    std::vector<char*> args;
    for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    ::execv(args[0], args.data());
    _exit(127);
  }
  return pid;
}

int Wait(pid_t pid) {
  int status = 0;
  REQUIRE(::waitpid(pid, &status, 0) == pid);
  return status;
}

int Run(const std::vector<std::string>& argv, const std::string& out_path) {
  int status = Wait(Spawn(argv, out_path));
  REQUIRE(WIFEXITED(status));
  return WEXITSTATUS(status);
}

std::string Read(const std::string& path) {
  std::ifstream in(path);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

// One integer from `sql` on a read-only connection; -1 when the database
// cannot be read yet.
int64_t Count(const std::string& db_path, const char* sql) {
  sqlite3* db = nullptr;
  int64_t n = -1;
  if (sqlite3_open_v2(db_path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr) == SQLITE_OK) {
    sqlite3_busy_timeout(db, 1000);
    sqlite3_stmt* q = nullptr;
    if (sqlite3_prepare_v2(db, sql, -1, &q, nullptr) == SQLITE_OK && sqlite3_step(q) == SQLITE_ROW) {
      n = sqlite3_column_int64(q, 0);
    }
    sqlite3_finalize(q);
  }
  sqlite3_close(db);
  return n;
}

TEST_CASE("an import killed with SIGKILL mid-file completes when run again, records nothing twice and verifies") {
  std::string tmpl = (std::filesystem::temp_directory_path() / "consentd-import-crash-XXXXXX").string();
  REQUIRE(::mkdtemp(tmpl.data()) != nullptr);
  const std::string root = tmpl, data = root + "/data", db = data + "/consentd.db";
  const std::string ctl = CONSENTCTL_PATH;
  REQUIRE(Run({ctl, "init", "--data-dir", data, "--origin", "test.example/crash"}, root + "/init.out") == 0);

  // 24,000 events of 16,000 people: every third event is a second purpose
  // of someone met before (a repeated subject, possibly in another batch).
  constexpr int kEvents = 24000;
  constexpr int kPeople = 16000;
  const std::string file = root + "/history.jsonl";
  std::set<int> sms_people;  // people with a second purpose (state rows)
  {
    std::ofstream out(file);
    int person = 0;
    for (int i = 0; i < kEvents; ++i) {
      const bool again = i % 3 == 2;
      const int who = again ? (i * 7919) % person : person++;
      if (again) sms_people.insert(who);
      out << R"({"identifiers":[{"kind":"email","value":"user)" << who << R"(@example.com"}],"purpose":")"
          << (again ? "sms_marketing" : "email_marketing") << R"(","decision":")" << (i % 2 ? "granted" : "withdrawn")
          << R"(","occurred_at":"2024-03-0)" << (1 + i % 9) << R"(T10:00:00Z","source":{"system":"klaviyo","method":"import"},"event_id":"e-)"
          << i << "\"}\n";
    }
    REQUIRE(person == kPeople);
  }
  const std::vector<std::string> import = {ctl, "import", file, "--data-dir", data, "--batch-events", "1000"};

  // Kill the first run once some batches are durable, well before the end.
  const pid_t pid = Spawn(import, root + "/run1.out");
  bool killed = false;
  for (int i = 0; i < 6000 && !killed; ++i) {
    int status = 0;
    if (::waitpid(pid, &status, WNOHANG) == pid) FAIL("the first run ended before it could be killed");
    const int64_t recorded = Count(db, "SELECT count(*) FROM consent_events");
    if (recorded >= 3000) {
      REQUIRE(::kill(pid, SIGKILL) == 0);
      killed = true;
    } else {
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
  }
  REQUIRE(killed);
  const int status = Wait(pid);
  REQUIRE(WIFSIGNALED(status));
  const int64_t after_kill = Count(db, "SELECT count(*) FROM consent_events");
  INFO("consent events durable at the kill: " << after_kill);
  CHECK(after_kill >= 3000);
  CHECK(after_kill < kEvents);

  // The second run completes the file.
  REQUIRE(Run(import, root + "/run2.out") == 0);
  const std::string report = Read(root + "/run2.out");
  INFO(report);
  CHECK(report.find(std::to_string(kEvents) + " rows: ") == 0);
  CHECK(report.find(" 0 rejected") != std::string::npos);
  CHECK(report.find(" " + std::to_string(after_kill) + " already recorded") != std::string::npos);

  // Each event once, each person once, one state row per person and purpose.
  CHECK(Count(db, "SELECT count(*) FROM consent_events") == kEvents);
  CHECK(Count(db, "SELECT count(*) FROM ledger_entries WHERE CAST(entry AS TEXT) LIKE '%consent.recorded%'") == kEvents);
  CHECK(Count(db, "SELECT count(*) FROM identity_subjects") == kPeople);
  CHECK(Count(db, "SELECT count(*) FROM identity_identifiers") == kPeople);
  CHECK(Count(db, "SELECT count(*) FROM consent_state") == kPeople + static_cast<int64_t>(sms_people.size()));
  CHECK(Count(db, "SELECT count(*) FROM (SELECT cause_seq, system FROM outbox GROUP BY 1, 2 HAVING count(*) > 1)") == 0);

  CHECK(Run({ctl, "ledger", "verify", "--data-dir", data}, root + "/verify.out") == 0);
  CHECK(Run({ctl, "rebuild", "--check", "--data-dir", data}, root + "/rebuild.out") == 0);

  // A third run records nothing.
  const int64_t entries = Count(db, "SELECT count(*) FROM ledger_entries");
  REQUIRE(Run(import, root + "/run3.out") == 0);
  const std::string again = Read(root + "/run3.out");
  INFO(again);
  CHECK(again.find(std::to_string(kEvents) + " rows: 0 recorded") == 0);
  CHECK(Count(db, "SELECT count(*) FROM ledger_entries") == entries);

  std::error_code ec;
  std::filesystem::remove_all(root, ec);
}

}  // namespace
