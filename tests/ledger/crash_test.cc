// Crash test: ledger_append_loop appends from several threads and prints
// each acknowledged entry; the test kills it with SIGKILL at a random moment,
// a few rounds on the same file. After each round the ledger must open,
// verify, and hold every acknowledged entry with its payload.
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <map>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "ledger/entry.h"
#include "ledger/ledger.h"
#include "ledger/note.h"
#include "ledger/verifier.h"
#include "src/base/bytes.h"
#include "tests/ledger/test_util.h"

#ifndef LEDGER_APPEND_LOOP_PATH
#error "LEDGER_APPEND_LOOP_PATH must name the ledger_append_loop program (tests/ledger/helpers.cmake)"
#endif

namespace consentd::ledger {
namespace {

using consentd::testing::TempDir;
using SteadyClock = std::chrono::steady_clock;

constexpr const char* kOrigin = "test.example/crash-ledger";
const std::string kSeed(32, '\x22');

struct RoundOutput {
  std::map<uint64_t, std::string> acked;  // seq -> payload id, from complete lines
  std::vector<std::string> errors;        // problems found while reading
  bool killed = false;
  int wait_status = 0;
};

// Starts the append loop, kills it `kill_after` after its first
// acknowledgement, and collects what it printed.
RoundOutput RunRound(const std::string& db_path, const std::string& tag, std::chrono::milliseconds kill_after) {
  RoundOutput out;
  int fds[2];
  REQUIRE(::pipe2(fds, O_CLOEXEC) == 0);
  const std::string seed_hex = HexEncode(AsBytes(kSeed));
  pid_t pid = ::fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    ::dup2(fds[1], STDOUT_FILENO);
    const char* argv[] = {LEDGER_APPEND_LOOP_PATH, db_path.c_str(), kOrigin, seed_hex.c_str(), tag.c_str(), "4",
                          nullptr};
    ::execv(argv[0], const_cast<char* const*>(argv));
    ::_exit(127);
  }
  ::close(fds[1]);

  std::string buf;
  bool killed = false;
  const SteadyClock::time_point start = SteadyClock::now();
  SteadyClock::time_point kill_at = start + std::chrono::seconds(20);  // until the first line
  bool seen_first = false;
  for (;;) {
    const SteadyClock::time_point now = SteadyClock::now();
    if (!killed && now >= kill_at) {
      ::kill(pid, SIGKILL);
      killed = true;
    }
    int timeout_ms = killed ? 1000 : static_cast<int>(std::chrono::duration_cast<std::chrono::milliseconds>(kill_at - now).count()) + 1;
    pollfd p{fds[0], POLLIN, 0};
    int pr = ::poll(&p, 1, timeout_ms);
    if (pr < 0 && errno == EINTR) continue;
    if (pr == 0) {
      if (killed) {
        out.errors.push_back("no EOF from the killed process");
        break;
      }
      continue;
    }
    char chunk[4096];
    ssize_t n = ::read(fds[0], chunk, sizeof chunk);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;  // EOF: the process is gone
    buf.append(chunk, static_cast<size_t>(n));
    if (!seen_first && buf.find('\n') != std::string::npos) {
      seen_first = true;
      kill_at = SteadyClock::now() + kill_after;
    }
  }
  ::close(fds[0]);
  if (!killed) ::kill(pid, SIGKILL);
  REQUIRE(::waitpid(pid, &out.wait_status, 0) == pid);
  out.killed = WIFSIGNALED(out.wait_status) && WTERMSIG(out.wait_status) == SIGKILL;

  // Only complete lines are acknowledgements; a torn last line is not.
  size_t start_pos = 0;
  size_t nl;
  while ((nl = buf.find('\n', start_pos)) != std::string::npos) {
    std::istringstream line(buf.substr(start_pos, nl - start_pos));
    start_pos = nl + 1;
    uint64_t seq;
    std::string id;
    if (!(line >> seq >> id)) {
      out.errors.push_back("unparsable line: " + line.str());
      continue;
    }
    if (!out.acked.emplace(seq, id).second) out.errors.push_back("seq " + std::to_string(seq) + " acknowledged twice");
  }
  return out;
}

TEST_CASE("Entries acknowledged before a kill -9 survive it and the ledger still verifies", "[ledger][crash]") {
  TempDir dir;
  const std::string path = (dir / "ledger.db").string();
  Result<Signer> signer = Signer::FromSeed(kOrigin, kSeed);
  REQUIRE(signer.ok());
  std::mt19937 rng(std::random_device{}());
  std::uniform_int_distribution<int> kill_ms(50, 600);

  std::map<uint64_t, std::string> all_acked;
  uint64_t last_size = 0;
  constexpr int kRounds = 4;
  for (int round = 0; round < kRounds; ++round) {
    const auto kill_after = std::chrono::milliseconds(kill_ms(rng));
    INFO("round " << round << ", killed " << kill_after.count() << " ms after the first append");
    RoundOutput out = RunRound(path, "r" + std::to_string(round), kill_after);
    for (const std::string& e : out.errors) FAIL_CHECK(e);
    REQUIRE(out.killed);  // it died of our SIGKILL, not of an error of its own
    CHECK_FALSE(out.acked.empty());
    for (const auto& [seq, id] : out.acked) {
      INFO("seq " << seq);
      CHECK(seq >= last_size);  // new entries continue after the previous round's
      CHECK(all_acked.emplace(seq, id).second);
    }

    LedgerOptions o;
    o.path = path;
    o.signer = &*signer;
    Result<std::unique_ptr<Ledger>> opened = Ledger::Open(o);
    REQUIRE(opened.ok());
    Ledger& l = **opened;
    VerifyOptions vo;
    vo.keys = {signer->verifier_key()};
    VerifyReport r = VerifyLedger(l, vo);
    INFO(r.Summary());
    REQUIRE(r.ok);
    REQUIRE(!all_acked.empty());
    CHECK(l.Size() > all_acked.rbegin()->first);
    // Every acknowledged entry, of this round and the earlier ones, is there.
    for (const auto& [seq, id] : all_acked) {
      Result<std::string> bytes = l.ReadEntry(seq);
      REQUIRE(bytes.ok());
      Result<EntryView> e = ParseEntry(*bytes);
      REQUIRE(e.ok());
      CHECK(e->payload == "{\"id\":\"" + id + "\"}");
    }
    last_size = l.Size();
    // The last checkpoint the killed process signed still verifies against
    // the ledger that survived, so it also extends it.
    Result<StoredCheckpoint> latest = l.LatestCheckpoint();
    if (latest.ok()) CHECK(latest->checkpoint.size <= l.Size());
  }
}

}  // namespace
}  // namespace consentd::ledger
