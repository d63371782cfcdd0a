// auditor_bench: the auditors' read API and witness cosigning
// (docs/benchmarks.md, "Auditors (issue 8)"). A program, not a timed test.
//
//   auditor_bench --dir DIR [--entries 1000000] [--seconds 10] [--clients 4]
//                 [--samples 100] [--quick]
//
// 1. Builds (or reuses) a data directory with `consentctl init` and N entries
//    appended directly to its ledger in large transactions, with a signed
//    checkpoint of size N.
// 2. Starts the real consentd on it (ledger_public) and has C keep-alive
//    clients request, for S seconds each: random full level-0 tiles, random
//    full entry bundles, random inclusion proofs (JSON), random consistency
//    proofs between signed sizes. Prints requests per second and latency
//    median / p95 per kind.
// 3. In process: a ledger with a Checkpointer and a CheckpointPublisher whose
//    one witness is test_witness (a separate process); measures the time from
//    an append returning to the publisher holding a cosigned checkpoint that
//    covers it (median, p95), with appends spaced beyond the cadence.
#include <httplib.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "ledger/checkpointer.h"
#include "ledger/ledger.h"
#include "ledger/note.h"
#include "ledger/tiles.h"
#include "src/witness/http_transport.h"
#include "src/witness/publisher.h"
#include "tests/witness/witness_process.h"

namespace {

using namespace consentd;
using Clock = std::chrono::steady_clock;
namespace fs = std::filesystem;

double Ms(Clock::duration d) { return std::chrono::duration<double, std::milli>(d).count(); }

double Pct(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<size_t>(p * static_cast<double>(v.size())))];
}

int Run(const std::string& cmd) {
  int rc = std::system(cmd.c_str());
  if (rc != 0) std::fprintf(stderr, "failed (%d): %s\n", rc, cmd.c_str());
  return rc;
}

std::string ReadAll(const std::string& path) {
  std::ifstream in(path);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

// Creates DIR/data with N entries and a checkpoint of size N (reused when present).
bool Prepare(const std::string& dir, uint64_t n, std::vector<uint64_t>* signed_sizes) {
  const std::string data = dir + "/data";
  if (!fs::exists(data + "/consentd.json")) {
    fs::create_directories(dir);
    if (Run(std::string(CONSENTCTL_PATH) + " init --data-dir " + data + " --origin bench.example/auditor > /dev/null") != 0) {
      return false;
    }
  }
  std::string skey = ReadAll(data + ".keys/checkpoint.key");
  while (!skey.empty() && skey.back() == '\n') skey.pop_back();
  Result<ledger::Signer> signer = ledger::Signer::FromSignerKey(skey);
  if (!signer.ok()) {
    std::fprintf(stderr, "signer: %s\n", signer.status().ToString().c_str());
    return false;
  }
  ledger::LedgerOptions o;
  o.path = data + "/consentd.db";
  o.signer = &*signer;
  Result<std::unique_ptr<ledger::Ledger>> l = ledger::Ledger::Open(o);
  if (!l.ok()) {
    std::fprintf(stderr, "ledger: %s\n", l.status().ToString().c_str());
    return false;
  }
  auto t0 = Clock::now();
  const uint64_t start = (*l)->Size();
  while ((*l)->Size() < n) {
    std::vector<ledger::NewEntry> batch;
    // Batches end at multiples of n/10, where a checkpoint is signed.
    const uint64_t stop = std::min(n, ((*l)->Size() / std::max<uint64_t>(1, n / 10) + 1) * std::max<uint64_t>(1, n / 10));
    for (uint64_t i = 0; i < 20000 && (*l)->Size() + i < stop; ++i) {
      char payload[160];
      std::snprintf(payload, sizeof payload,
                    "{\"sid\":\"%032llx\",\"purpose\":\"email_marketing\",\"state\":\"granted\",\"n\":%llu}",
                    static_cast<unsigned long long>((*l)->Size() + i) * 2654435761ULL,
                    static_cast<unsigned long long>((*l)->Size() + i));
      batch.push_back({"consent.recorded", payload});
    }
    Result<std::vector<ledger::AppendedEntry>> r = (*l)->Append(std::move(batch));
    if (!r.ok()) {
      std::fprintf(stderr, "append: %s\n", r.status().ToString().c_str());
      return false;
    }
    if ((*l)->Size() % std::max<uint64_t>(1, n / 10) == 0 && !(*l)->SignCheckpoint().ok()) return false;
  }
  if ((*l)->Size() > start) {
    std::printf("appended %llu entries in %.1f s\n", static_cast<unsigned long long>((*l)->Size() - start),
                Ms(Clock::now() - t0) / 1000);
  }
  if (!(*l)->SignCheckpoint().ok()) return false;
  // Signed sizes (every n/10 entries) for the consistency requests.
  Result<std::vector<ledger::StoredCheckpoint>> all = (*l)->ListCheckpoints();
  if (!all.ok()) return false;
  signed_sizes->clear();
  for (const ledger::StoredCheckpoint& c : *all) {
    if (c.checkpoint.size > 0 && c.checkpoint.size <= n) signed_sizes->push_back(c.checkpoint.size);
  }
  return !signed_sizes->empty();
}

struct Consentd {
  pid_t pid = -1;
  int port = 0;
  ~Consentd() {
    if (pid > 0) {
      kill(pid, SIGTERM);
      int st;
      waitpid(pid, &st, 0);
    }
  }
};

bool StartConsentd(const std::string& dir, int port, Consentd* c) {
  const std::string cfg_path = dir + "/data/consentd.json";
  // Serve publicly on the chosen port; 8 handler threads.
  std::string cmd = "python3 -c \"import json;p='" + cfg_path +
                    "';c=json.load(open(p));c['listen']='127.0.0.1:" + std::to_string(port) +
                    "';c['ledger_public']=True;c['log_level']='warn';json.dump(c,open(p,'w'))\"";
  if (Run(cmd) != 0) return false;
  pid_t pid = fork();
  if (pid == 0) {
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    execl(CONSENTD_PATH, CONSENTD_PATH, "--config", cfg_path.c_str(), nullptr);
    _exit(127);
  }
  c->pid = pid;
  c->port = port;
  httplib::Client cl("127.0.0.1", port);
  for (int i = 0; i < 300; ++i) {
    auto r = cl.Get("/readyz");
    if (r && r->status == 200) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return false;
}

struct Kind {
  std::string name;
  std::function<std::string(std::mt19937_64&)> path;
};

void Load(int port, int clients, double seconds, uint64_t n, const std::vector<uint64_t>& signed_sizes) {
  std::vector<Kind> kinds = {
      {"full level-0 tile", [n](std::mt19937_64& r) { return "/ledger/" + ledger::TilePath({false, 0, r() % (n / 256), 256}); }},
      {"full entry bundle", [n](std::mt19937_64& r) { return "/ledger/" + ledger::TilePath({true, 0, r() % (n / 256), 256}); }},
      {"inclusion proof (JSON)",
       [n](std::mt19937_64& r) { return "/v1/ledger/proofs/inclusion?index=" + std::to_string(r() % n); }},
      {"consistency proof (JSON)",
       [&signed_sizes](std::mt19937_64& r) {
         return "/v1/ledger/proofs/consistency?from=" + std::to_string(signed_sizes[r() % signed_sizes.size()]);
       }},
      {"checkpoint", [](std::mt19937_64&) { return std::string("/ledger/checkpoint"); }},
  };
  std::printf("\n%-26s %10s %10s %10s %8s\n", "request", "req/s", "median ms", "p95 ms", "errors");
  for (const Kind& k : kinds) {
    std::atomic<uint64_t> done{0}, errors{0};
    std::vector<std::vector<double>> lat(static_cast<size_t>(clients));
    auto deadline = Clock::now() + std::chrono::milliseconds(static_cast<int64_t>(seconds * 1000));
    auto t0 = Clock::now();
    std::vector<std::thread> ts;
    for (int c = 0; c < clients; ++c) {
      ts.emplace_back([&, c] {
        std::mt19937_64 rng(static_cast<uint64_t>(c) * 7919 + 1);
        httplib::Client cl("127.0.0.1", port);
        cl.set_keep_alive(true);
        cl.set_tcp_nodelay(true);
        while (Clock::now() < deadline) {
          std::string p = k.path(rng);
          auto s = Clock::now();
          auto r = cl.Get(p);
          lat[static_cast<size_t>(c)].push_back(Ms(Clock::now() - s));
          if (!r || r->status != 200) ++errors;
          ++done;
        }
      });
    }
    for (auto& t : ts) t.join();
    double secs = Ms(Clock::now() - t0) / 1000;
    std::vector<double> all;
    for (auto& v : lat) all.insert(all.end(), v.begin(), v.end());
    std::printf("%-26s %10.0f %10.2f %10.2f %8llu\n", k.name.c_str(), static_cast<double>(done) / secs, Pct(all, 0.5),
                Pct(all, 0.95), static_cast<unsigned long long>(errors.load()));
  }
}

void CosignLatency(const std::string& dir, int samples, int interval_ms) {
  const std::string path = dir + "/cosign.db";
  fs::remove(path);
  fs::remove(path + "-wal");
  fs::remove(path + "-shm");
  Result<ledger::Signer> signer = ledger::Signer::Generate("bench.example/cosign");
  ledger::LedgerOptions o;
  o.path = path;
  o.create_if_missing = true;
  o.origin = "bench.example/cosign";
  o.signer = &*signer;
  auto l = ledger::Ledger::Open(o);
  if (!l.ok()) return;
  auto w = testing::WitnessProcess::Start(TEST_WITNESS_PATH, signer->verifier_key_string(), "bench.witness",
                                          dir + "/witness.state");
  if (!w) return;
  w->Control("reset");
  witness::PublisherOptions po;
  po.witnesses.push_back({"bench.witness", w->url(), *ledger::ParseVerifierKey(w->vkey())});
  po.quorum = 1;
  po.transport = witness::HttpTransport(std::chrono::milliseconds(5000));
  auto pub = witness::CheckpointPublisher::Start(**l, po);
  if (!pub.ok()) return;
  ledger::CheckpointerOptions co;
  co.min_interval = std::chrono::milliseconds(interval_ms);
  co.on_signed = [p = pub->get()](const ledger::StoredCheckpoint& c) { p->OnSigned(c); };
  ledger::Checkpointer cp(**l, co);
  std::vector<double> lat;
  for (int i = 0; i < samples; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(interval_ms + 20));  // beyond the cadence
    auto r = (*l)->Append({{"bench.cosign", "{}"}});
    if (!r.ok()) continue;
    auto t0 = Clock::now();
    if (!(*pub)->WaitForPublished((*r)[0].seq + 1, std::chrono::seconds(30))) {
      std::printf("sample %d: not cosigned within 30 s\n", i);
      continue;
    }
    lat.push_back(Ms(Clock::now() - t0));
  }
  std::printf("\nappend -> cosigned checkpoint (1 local witness, cadence %d ms, %zu samples): median %.2f ms, p95 %.2f ms\n",
              interval_ms, lat.size(), Pct(lat, 0.5), Pct(lat, 0.95));
}

}  // namespace

int main(int argc, char** argv) {
  std::string dir;
  uint64_t entries = 1000000;
  double seconds = 10;
  int clients = 4;
  int samples = 100;
  int port = 18089;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto next = [&]() -> std::string { return i + 1 < argc ? argv[++i] : ""; };
    if (a == "--dir") dir = next();
    else if (a == "--entries") entries = std::stoull(next());
    else if (a == "--seconds") seconds = std::stod(next());
    else if (a == "--clients") clients = std::stoi(next());
    else if (a == "--samples") samples = std::stoi(next());
    else if (a == "--port") port = std::stoi(next());
    else if (a == "--quick") {
      entries = 5000;
      seconds = 0.5;
      samples = 5;
    } else {
      std::fprintf(stderr, "unknown option %s\n", a.c_str());
      return 2;
    }
  }
  if (dir.empty()) {
    dir = (fs::temp_directory_path() / ("auditor_bench." + std::to_string(getpid()))).string();
  }
  std::printf("auditor_bench: %llu entries, %d clients, %.1f s per request kind, dir %s\n",
              static_cast<unsigned long long>(entries), clients, seconds, dir.c_str());
  double load[3];
  if (getloadavg(load, 3) == 3) std::printf("load average before: %.2f %.2f %.2f\n", load[0], load[1], load[2]);
  std::vector<uint64_t> signed_sizes;
  if (!Prepare(dir, entries, &signed_sizes)) return 1;
  {
    Consentd c;
    if (!StartConsentd(dir, port, &c)) {
      std::fprintf(stderr, "consentd did not start\n");
      return 1;
    }
    Load(port, clients, seconds, entries, signed_sizes);
  }
  CosignLatency(dir, samples, 100);
  if (getloadavg(load, 3) == 3) std::printf("load average after: %.2f %.2f %.2f\n", load[0], load[1], load[2]);
  return 0;
}
