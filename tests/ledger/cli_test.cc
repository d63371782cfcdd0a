// Tests of the real consentctl binary: init, append, checkpoint, verify,
// export, prove; exit codes and messages for tampered ledgers and bad input.
#include <fcntl.h>
#include <poll.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "ledger/checkpoint.h"
#include "ledger/entry.h"
#include "ledger/ledger.h"
#include "ledger/merkle.h"
#include "ledger/note.h"
#include "src/base/bytes.h"
#include "tests/ledger/test_util.h"

#ifndef CONSENTD_CONSENTCTL_PATH
#error "CONSENTD_CONSENTCTL_PATH must name the consentctl binary (tests/ledger/CMakeLists.txt)"
#endif

namespace consentd::ledger {
namespace {

using consentd::testing::TempDir;
namespace fs = std::filesystem;

constexpr const char* kOrigin = "test.example/cli-ledger";

struct Run {
  int exit_code = -1;
  std::string out;
  std::string err;
};

// Runs consentctl with `args`, stdin from /dev/null, capturing both streams.
Run Consentctl(const std::vector<std::string>& args) {
  int out_fds[2];
  int err_fds[2];
  REQUIRE(::pipe2(out_fds, O_CLOEXEC) == 0);
  REQUIRE(::pipe2(err_fds, O_CLOEXEC) == 0);
  std::vector<const char*> argv = {CONSENTD_CONSENTCTL_PATH};
  for (const std::string& a : args) argv.push_back(a.c_str());
  argv.push_back(nullptr);
  pid_t pid = ::fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    int devnull = ::open("/dev/null", O_RDONLY);
    ::dup2(devnull, STDIN_FILENO);
    ::dup2(out_fds[1], STDOUT_FILENO);
    ::dup2(err_fds[1], STDERR_FILENO);
    ::execv(argv[0], const_cast<char* const*>(argv.data()));
    ::_exit(127);
  }
  ::close(out_fds[1]);
  ::close(err_fds[1]);
  Run r;
  pollfd fds[2] = {{out_fds[0], POLLIN, 0}, {err_fds[0], POLLIN, 0}};
  std::string* sinks[2] = {&r.out, &r.err};
  int open_fds = 2;
  while (open_fds > 0) {
    if (::poll(fds, 2, 60'000) <= 0) break;
    for (int i = 0; i < 2; ++i) {
      if (fds[i].fd < 0 || !(fds[i].revents & (POLLIN | POLLHUP))) continue;
      char buf[4096];
      ssize_t n = ::read(fds[i].fd, buf, sizeof buf);
      if (n > 0) {
        sinks[i]->append(buf, static_cast<size_t>(n));
      } else {
        ::close(fds[i].fd);
        fds[i].fd = -1;
        --open_fds;
      }
    }
  }
  for (pollfd& p : fds) {
    if (p.fd >= 0) ::close(p.fd);
  }
  int status = 0;
  REQUIRE(::waitpid(pid, &status, 0) == pid);
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return r;
}

std::string Trim(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  return s;
}

std::vector<std::string> Lines(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) out.push_back(line);
  return out;
}

std::string ReadAll(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

bool Contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

unsigned Mode(const fs::path& p) {
  struct stat st;
  REQUIRE(::stat(p.c_str(), &st) == 0);
  return st.st_mode & 07777;
}

Checkpoint ParseCheckpointNote(const std::string& note, const VerifierKey& key) {
  Result<Note> n = ParseNote(note);
  REQUIRE(n.ok());
  REQUIRE(VerifyNote(*n, {key}).ok());
  Result<Checkpoint> c = ParseCheckpointBody(n->text);
  REQUIRE(c.ok());
  return *c;
}

std::vector<Hash> ParseProof(const std::string& out) {
  std::vector<Hash> proof;
  for (const std::string& line : Lines(out)) {
    Result<std::string> raw = Base64Decode(line);
    REQUIRE(raw.ok());
    REQUIRE(raw->size() == 32);
    Hash h;
    std::memcpy(h.data(), raw->data(), 32);
    proof.push_back(h);
  }
  return proof;
}

// An initialized data directory.
struct DataDir {
  TempDir tmp;
  fs::path dir = tmp / "data";
  fs::path keys = tmp / "data.keys";
  std::string vkey_text;
  VerifierKey vkey;

  DataDir() {
    Run r = Consentctl({"init", "--data-dir", dir.string(), "--origin", kOrigin});
    INFO(r.err);
    REQUIRE(r.exit_code == 0);
    vkey_text = Trim(r.out);
    Result<VerifierKey> k = ParseVerifierKey(vkey_text);
    REQUIRE(k.ok());
    vkey = *k;
  }
  std::string db() const { return (dir / "consentd.db").string(); }

  Run Cmd(std::vector<std::string> args) const {
    args.insert(args.begin(), "ledger");
    args.insert(args.begin() + 2, {"--data-dir", dir.string()});
    return Consentctl(args);
  }
  void Append(int count) const {
    Run r = Cmd({"append", "--payload", "{\"n\":1}", "--count", std::to_string(count)});
    INFO(r.err);
    REQUIRE(r.exit_code == 0);
  }
  Checkpoint SignCheckpoint() const {
    Run r = Cmd({"checkpoint"});
    INFO(r.err);
    REQUIRE(r.exit_code == 0);
    return ParseCheckpointNote(r.out, vkey);
  }

  // The ledger's size and number of checkpoints, read with the library.
  std::pair<uint64_t, size_t> State() const {
    LedgerOptions o;
    o.path = db();
    o.read_only = true;
    Result<std::unique_ptr<consentd::ledger::Ledger>> l = consentd::ledger::Ledger::Open(o);
    REQUIRE(l.ok());
    Result<std::vector<StoredCheckpoint>> cps = (*l)->ListCheckpoints();
    REQUIRE(cps.ok());
    return {(*l)->Size(), cps->size()};
  }
  std::vector<std::string> Entries() const {
    LedgerOptions o;
    o.path = db();
    o.read_only = true;
    Result<std::unique_ptr<consentd::ledger::Ledger>> l = consentd::ledger::Ledger::Open(o);
    REQUIRE(l.ok());
    std::vector<std::string> out;
    REQUIRE((*l)->ScanEntries(0, (*l)->Size(), [&](uint64_t, std::string_view e) {
                  out.emplace_back(e);
                  return Status::Ok();
                }).ok());
    return out;
  }
};

// Every file under `roots`, with its mode and contents.
std::map<std::string, std::pair<unsigned, std::string>> Snapshot(const std::vector<fs::path>& roots) {
  std::map<std::string, std::pair<unsigned, std::string>> out;
  for (const fs::path& root : roots) {
    out[root.string()] = {Mode(root), ""};
    for (const auto& e : fs::recursive_directory_iterator(root)) {
      out[e.path().string()] = {Mode(e.path()), e.is_regular_file() ? ReadAll(e.path()) : ""};
    }
  }
  return out;
}

TEST_CASE("consentctl init creates owner-only directories and key files and prints a verifier key",
          "[ledger][cli]") {
  DataDir d;
  CHECK(Mode(d.dir) == 0700);
  CHECK(Mode(d.keys) == 0700);
  CHECK(Mode(d.keys / "checkpoint.key") == 0600);
  for (const auto& e : fs::directory_iterator(d.keys)) {
    INFO(e.path());
    CHECK(Mode(e.path()) == 0600);
  }
  CHECK(d.vkey.name == kOrigin);
  Run vk = d.Cmd({"verifier-key"});
  CHECK(vk.exit_code == 0);
  CHECK(Trim(vk.out) == d.vkey_text);
  // A fresh ledger: empty, with a signed checkpoint of size 0, and it verifies.
  CHECK(d.State() == std::pair<uint64_t, size_t>{0, 1});
  Run v = d.Cmd({"verify"});
  CHECK(v.exit_code == 0);
  CHECK(Contains(v.out, "OK: 0 entries"));
}

TEST_CASE("consentctl init refuses an initialized data directory with exit 3 and changes nothing",
          "[ledger][cli]") {
  DataDir d;
  d.Append(2);
  const auto before = Snapshot({d.dir, d.keys});
  SECTION("same arguments") {
    Run r = Consentctl({"init", "--data-dir", d.dir.string(), "--origin", kOrigin});
    CHECK(r.exit_code == 3);
    CHECK(Contains(r.err, "already initialized"));
    CHECK(r.out.empty());
  }
  SECTION("another origin") {
    Run r = Consentctl({"init", "--data-dir", d.dir.string(), "--origin", "other.example/log"});
    CHECK(r.exit_code == 3);
    CHECK(Contains(r.err, "already initialized"));
  }
  CHECK(Snapshot({d.dir, d.keys}) == before);
}

TEST_CASE("consentctl appends, checkpoints, verifies, exports and proves a ledger end to end", "[ledger][cli]") {
  DataDir d;
  Run a = d.Cmd({"append", "--kind", "demo.note", "--payload", "{\"n\":1}", "--count", "5"});
  REQUIRE(a.exit_code == 0);
  CHECK(Lines(a.out) == std::vector<std::string>{"0", "1", "2", "3", "4"});
  Run cp5_run = d.Cmd({"checkpoint"});
  REQUIRE(cp5_run.exit_code == 0);
  const std::string note5 = cp5_run.out;
  const Checkpoint cp5 = ParseCheckpointNote(note5, d.vkey);
  CHECK(cp5.origin == kOrigin);
  CHECK(cp5.size == 5);
  d.Append(3);
  const Checkpoint cp8 = d.SignCheckpoint();
  CHECK(cp8.size == 8);
  // Without growth, checkpoint prints the same note again.
  Run again = d.Cmd({"checkpoint"});
  CHECK(again.exit_code == 0);
  CHECK(ParseCheckpointNote(again.out, d.vkey).root == cp8.root);

  const std::vector<std::string> entries = d.Entries();
  REQUIRE(entries.size() == 8);
  for (const std::string& e : entries) {
    Result<EntryView> v = ParseEntry(e);
    REQUIRE(v.ok());
    CHECK(v->kind == "demo.note");
  }

  SECTION("verify, with and without a saved checkpoint") {
    Run v = d.Cmd({"verify"});
    CHECK(v.exit_code == 0);
    CHECK(Contains(v.out, "OK: 8 entries"));
    fs::path saved = d.tmp / "cp5.note";
    std::ofstream(saved) << note5;
    Run vc = d.Cmd({"verify", "--checkpoint", saved.string(), "--verifier-key", d.vkey_text});
    CHECK(vc.exit_code == 0);
    INFO(vc.out << vc.err);
    CHECK(Contains(vc.out, "OK: 8 entries"));
  }

  SECTION("export writes exactly the stored bytes, and the export verifies") {
    fs::path out = d.tmp / "export.jsonl";
    Run e = d.Cmd({"export", "--out", out.string()});
    INFO(e.err);
    REQUIRE(e.exit_code == 0);
    CHECK(Contains(e.out, "exported 8 entries"));
    std::string expected;
    for (const std::string& line : entries) expected += line + "\n";
    CHECK(ReadAll(out) == expected);
    CHECK(ParseCheckpointNote(ReadAll(out.string() + ".checkpoint"), d.vkey).size == 8);

    Run v = Consentctl({"ledger", "verify", "--export", out.string(), "--verifier-key", d.vkey_text});
    INFO(v.out << v.err);
    CHECK(v.exit_code == 0);
    CHECK(Contains(v.out, "OK: 8 entries"));
    // The key may also be given as a file holding it.
    fs::path key_file = d.tmp / "vkey.txt";
    std::ofstream(key_file) << d.vkey_text << "\n";
    Run vf = Consentctl({"ledger", "verify", "--export", out.string(), "--verifier-key", key_file.string()});
    CHECK(vf.exit_code == 0);

    // Tampered export: the verifier names the line.
    std::string text = ReadAll(out);
    size_t at = text.find("\"seq\":3,");
    REQUIRE(at != std::string::npos);
    text[at + 6] = '7';
    std::ofstream(out, std::ios::binary | std::ios::trunc) << text;
    Run bad = Consentctl({"ledger", "verify", "--export", out.string(), "--verifier-key", d.vkey_text});
    CHECK(bad.exit_code == 1);
    CHECK(Contains(bad.out, "FAIL at seq 3"));
  }

  SECTION("inclusion proofs verify against the signed roots") {
    for (uint64_t index : {0, 2, 4}) {
      Run p = d.Cmd({"prove", "--index", std::to_string(index), "--size", "5"});
      INFO(p.err);
      REQUIRE(p.exit_code == 0);
      std::vector<Hash> proof = ParseProof(p.out);
      CHECK(VerifyInclusion(index, 5, LeafHash(AsBytes(entries[index])), proof, cp5.root).ok());
    }
    // Without --size: the latest checkpoint.
    Run p = d.Cmd({"prove", "--index", "6"});
    REQUIRE(p.exit_code == 0);
    CHECK(VerifyInclusion(6, 8, LeafHash(AsBytes(entries[6])), ParseProof(p.out), cp8.root).ok());
    CHECK_FALSE(VerifyInclusion(6, 8, LeafHash(AsBytes(entries[5])), ParseProof(p.out), cp8.root).ok());
  }

  SECTION("consistency proofs verify between the signed roots") {
    Run p = d.Cmd({"prove", "--consistency", "5", "8"});
    INFO(p.err);
    REQUIRE(p.exit_code == 0);
    CHECK(VerifyConsistency(5, 8, cp5.root, cp8.root, ParseProof(p.out)).ok());
  }

  SECTION("proofs against sizes that were never signed are refused") {
    Run p = d.Cmd({"prove", "--index", "1", "--size", "6"});
    CHECK(p.exit_code == 2);
    CHECK(Contains(p.err, "no signed checkpoint"));
    CHECK(p.out.empty());
    Run c = d.Cmd({"prove", "--consistency", "5", "7"});
    CHECK(c.exit_code == 2);
    Run beyond = d.Cmd({"prove", "--index", "8"});
    CHECK(beyond.exit_code == 2);
    CHECK(beyond.out.empty());
  }
}

TEST_CASE("consentctl verify exits 1 after the SQLite file is tampered with and names the entry", "[ledger][cli]") {
  DataDir d;
  d.Append(10);
  d.SignCheckpoint();
  REQUIRE(d.Cmd({"verify"}).exit_code == 0);
  {
    sqlite3* db = nullptr;
    REQUIRE(sqlite3_open(d.db().c_str(), &db) == SQLITE_OK);
    REQUIRE(sqlite3_exec(db, "UPDATE ledger_entries SET entry = replace(entry, '\"n\":1', '\"n\":2') WHERE seq = 4",
                         nullptr, nullptr, nullptr) == SQLITE_OK);
    CHECK(sqlite3_changes(db) == 1);
    sqlite3_close(db);
  }
  Run v = d.Cmd({"verify"});
  CHECK(v.exit_code == 1);
  INFO(v.out << v.err);
  CHECK(Contains(v.out, "FAIL at seq 4"));
  CHECK(Contains(v.out, "entry 4"));
}

TEST_CASE("consentctl rejects bad arguments with exit 2 or 3 and a clear message, recording nothing",
          "[ledger][cli]") {
  DataDir d;
  d.Append(2);
  const auto before = d.State();
  const std::string dir = d.dir.string();
  struct Case {
    std::string name;
    std::vector<std::string> args;
    int exit_code;
    std::string message;
  };
  const std::vector<Case> cases = {
      {"unknown subcommand", {"bogus"}, 2, ""},
      {"unknown ledger subcommand", {"ledger", "bogus", "--data-dir", dir}, 2, ""},
      {"missing --data-dir", {"ledger", "append", "--payload", "{}"}, 2, "--data-dir"},
      {"--count 0", {"ledger", "append", "--data-dir", dir, "--payload", "{}", "--count", "0"}, 2, "--count"},
      {"--count not a number", {"ledger", "append", "--data-dir", dir, "--payload", "{}", "--count", "x"}, 2, "--count"},
      {"malformed payload", {"ledger", "append", "--data-dir", dir, "--payload", "{\"a\":1"}, 2, "payload"},
      {"payload not an object", {"ledger", "append", "--data-dir", dir, "--payload", "[1]"}, 2, "payload"},
      {"bad kind", {"ledger", "append", "--data-dir", dir, "--kind", "Bad Kind", "--payload", "{}"}, 2, "kind"},
      {"malformed verifier key", {"ledger", "verify", "--data-dir", dir, "--verifier-key", "name+zz+AAAA"}, 2,
       "verifier key"},
      {"both --data-dir and --export", {"ledger", "verify", "--data-dir", dir, "--export", dir + "/x"}, 2,
       "exactly one"},
      {"neither --index nor --consistency", {"ledger", "prove", "--data-dir", dir}, 2, "--index"},
  };
  for (const Case& c : cases) {
    INFO(c.name);
    Run r = Consentctl(c.args);
    INFO("stdout: " << r.out << "\nstderr: " << r.err);
    CHECK(r.exit_code == c.exit_code);
    CHECK_FALSE(r.err.empty());
    if (!c.message.empty()) CHECK(Contains(r.err, c.message));
    CHECK(d.State() == before);
  }

  SECTION("a data directory that does not exist") {
    fs::path missing = d.tmp / "missing";
    for (const std::vector<std::string>& args :
         {std::vector<std::string>{"ledger", "append", "--data-dir", missing.string(), "--payload", "{}"},
          std::vector<std::string>{"ledger", "verify", "--data-dir", missing.string()},
          std::vector<std::string>{"ledger", "checkpoint", "--data-dir", missing.string()}}) {
      Run r = Consentctl(args);
      CHECK(r.exit_code == 3);
      CHECK(Contains(r.err, "not initialized"));
    }
    CHECK_FALSE(fs::exists(missing));
  }

  SECTION("a key file readable by the group") {
    fs::permissions(d.keys / "checkpoint.key", fs::perms::group_read, fs::perm_options::add);
    for (const std::vector<std::string>& args :
         {std::vector<std::string>{"ledger", "append", "--data-dir", dir, "--payload", "{}"},
          std::vector<std::string>{"ledger", "checkpoint", "--data-dir", dir},
          std::vector<std::string>{"ledger", "export", "--data-dir", dir, "--out", (d.tmp / "x.jsonl").string()},
          std::vector<std::string>{"ledger", "verifier-key", "--data-dir", dir}}) {
      INFO(args[1]);
      Run r = Consentctl(args);
      INFO(r.err);
      CHECK(r.exit_code == 3);
      CHECK(Contains(r.err, "readable by group or others"));
      CHECK(r.out.empty());
    }
    CHECK(d.State() == before);
    CHECK_FALSE(fs::exists(d.tmp / "x.jsonl"));
    fs::permissions(d.keys / "checkpoint.key", fs::perms::group_read, fs::perm_options::remove);
  }

  CHECK(d.Cmd({"verify"}).exit_code == 0);
}

}  // namespace
}  // namespace consentd::ledger
