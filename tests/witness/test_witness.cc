// test_witness: a small C2SP tlog-witness (c2sp.org/tlog-witness), written
// from the spec for the tests; it is not consentd code. It cosigns one log's
// checkpoints with a timestamped Ed25519 cosignature (c2sp.org/tlog-cosignature)
// after checking the log's signature and the consistency proof from the size
// it stored, and keeps its state (size, root) in a file.
//
//   test_witness --log-vkey K --name N [--seed-hex H] [--state FILE] [--port P]
//
// Without --seed-hex the key's seed is SHA-256("test_witness seed " + name).
//
// Prints "vkey <witness vkey>" and then "listening <port>" on stdout.
// Control, for tests:  POST /control with body
//   "normal" | "down" (503 to everything) | "slow <ms>" (delay each answer)
//   | "reset" (forget the state, so the log gets a 409)
// and GET /state answers "<size>\n".
#include <httplib.h>
#include <sodium.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <mutex>
#include <sstream>
#include <string>
#include <thread>

#include "ledger/checkpoint.h"
#include "ledger/merkle.h"
#include "ledger/note.h"
#include "src/base/bytes.h"
#include "src/base/sha256.h"

namespace {

using namespace consentd;

struct State {
  uint64_t size = 0;
  Hash root = ledger::EmptyRoot();
};

struct Witness {
  std::string name;
  ledger::VerifierKey log_key;
  std::array<uint8_t, 32> pk{};
  std::array<uint8_t, 64> sk{};
  uint32_t key_id = 0;
  std::string state_file;

  std::mutex mu;  // serializes add-checkpoint: the size check and the state write are atomic
  State state;
  std::atomic<int> mode{0};  // 0 normal, 1 down
  std::atomic<int> delay_ms{0};

  void Load() {
    std::ifstream in(state_file);
    std::string size, root;
    if (!(in >> size >> root)) return;
    Result<std::string> r = Base64Decode(root);
    if (!r.ok() || r->size() != 32) return;
    state.size = std::stoull(size);
    std::copy(r->begin(), r->end(), reinterpret_cast<char*>(state.root.data()));
  }
  bool Save(const State& s) {
    if (state_file.empty()) return true;
    std::string tmp = state_file + ".tmp";
    {
      std::ofstream out(tmp, std::ios::trunc);
      out << s.size << "\n" << Base64Encode(AsBytes(s.root)) << "\n";
      out.flush();
      if (!out) return false;
    }
    return std::rename(tmp.c_str(), state_file.c_str()) == 0;
  }

  std::string Cosign(const std::string& body) const {
    uint64_t ts = static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::seconds>(
                                            std::chrono::system_clock::now().time_since_epoch())
                                            .count());
    std::string msg = ledger::CosignatureMessage(ts, body);
    std::string sig(4 + 8 + 64, '\0');
    for (int i = 0; i < 4; ++i) sig[i] = static_cast<char>(key_id >> (24 - 8 * i));
    for (int i = 0; i < 8; ++i) sig[4 + i] = static_cast<char>(ts >> (56 - 8 * i));
    crypto_sign_detached(reinterpret_cast<unsigned char*>(sig.data() + 12), nullptr,
                         reinterpret_cast<const unsigned char*>(msg.data()), msg.size(), sk.data());
    return "\xE2\x80\x94 " + name + " " + Base64Encode(AsBytes(sig)) + "\n";
  }

  // The add-checkpoint handler, per the spec's status codes.
  void AddCheckpoint(const httplib::Request& req, httplib::Response& res) {
    auto answer = [&](int status, const std::string& text) {
      res.status = status;
      res.set_content(text, "text/plain; charset=utf-8");
    };
    std::string_view body = req.body;
    size_t nl = body.find('\n');
    if (nl == std::string_view::npos || body.substr(0, 4) != "old ") return answer(400, "bad old line\n");
    std::string old_text(body.substr(4, nl - 4));
    if (old_text.empty() || old_text.size() > 19 || old_text.find_first_not_of("0123456789") != std::string::npos ||
        (old_text.size() > 1 && old_text[0] == '0')) {
      return answer(400, "bad old size\n");
    }
    uint64_t old = std::stoull(old_text);
    body.remove_prefix(nl + 1);
    std::vector<Hash> proof;
    while (true) {
      nl = body.find('\n');
      if (nl == std::string_view::npos) return answer(400, "missing blank line\n");
      std::string_view line = body.substr(0, nl);
      body.remove_prefix(nl + 1);
      if (line.empty()) break;
      Result<std::string> h = Base64Decode(line);
      if (!h.ok() || h->size() != 32 || proof.size() >= 63) return answer(400, "bad proof line\n");
      Hash hh;
      std::copy(h->begin(), h->end(), reinterpret_cast<char*>(hh.data()));
      proof.push_back(hh);
    }
    Result<ledger::Note> note = ledger::ParseNote(body);
    if (!note.ok()) return answer(400, "bad note\n");
    Result<ledger::Checkpoint> cp = ledger::ParseCheckpointBody(note->text);
    if (!cp.ok()) return answer(400, "bad checkpoint\n");
    if (cp->origin != log_key.name) return answer(404, "unknown origin\n");
    if (!ledger::VerifyNote(*note, {log_key}).ok()) return answer(403, "no valid log signature\n");
    if (old > cp->size) return answer(400, "old size beyond the checkpoint\n");
    std::lock_guard<std::mutex> l(mu);
    if (old != state.size) {
      res.status = 409;
      res.set_content(std::to_string(state.size) + "\n", "text/x.tlog.size");
      return;
    }
    if (cp->size == 0 && cp->root != ledger::EmptyRoot()) return answer(422, "size 0 with a non-empty root\n");
    if (old == 0) {
      if (!proof.empty()) return answer(422, "proof from size 0 must be empty\n");
    } else if (old == cp->size) {
      if (!proof.empty() || cp->root != state.root) return answer(422, "same size, different root\n");
    } else if (!ledger::VerifyConsistency(old, cp->size, state.root, cp->root, proof).ok()) {
      return answer(422, "consistency proof does not verify\n");
    }
    State next{cp->size, cp->root};
    if (!Save(next)) return answer(500, "cannot save state\n");
    state = next;
    answer(200, Cosign(note->text));
  }
};

}  // namespace

int main(int argc, char** argv) {
  if (sodium_init() < 0) return 3;
  Witness w;
  std::string log_vkey, seed_hex;
  int port = 0;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string a = argv[i], v = argv[i + 1];
    if (a == "--log-vkey") log_vkey = v;
    else if (a == "--name") w.name = v;
    else if (a == "--seed-hex") seed_hex = v;
    else if (a == "--state") w.state_file = v;
    else if (a == "--port") port = std::stoi(v);
    else {
      std::cerr << "unknown option " << a << "\n";
      return 2;
    }
  }
  Result<ledger::VerifierKey> k = ledger::ParseVerifierKey(log_vkey);
  if (!k.ok() || w.name.empty()) {
    std::cerr << "usage: test_witness --log-vkey K --name N [--seed-hex H] [--state FILE] [--port P]\n";
    return 2;
  }
  w.log_key = *k;
  std::array<uint8_t, 32> seed{};
  if (seed_hex.size() == 64) {
    for (size_t i = 0; i < 32; ++i) seed[i] = static_cast<uint8_t>(std::stoi(seed_hex.substr(2 * i, 2), nullptr, 16));
  } else {
    // Deterministic per name, so that a restarted witness keeps its key.
    Hash h = Sha256Of("test_witness seed " + w.name);
    std::copy(h.begin(), h.end(), seed.begin());
  }
  crypto_sign_seed_keypair(w.pk.data(), w.sk.data(), seed.data());
  w.key_id = ledger::ComputeKeyId(w.name, 0x04, w.pk);
  ledger::VerifierKey vk{w.name, w.key_id, 0x04, w.pk};
  if (!w.state_file.empty()) w.Load();

  httplib::Server server;
  server.set_exception_handler([](const httplib::Request&, httplib::Response& res, std::exception_ptr) {
    res.status = 500;
    res.set_content("internal error\n", "text/plain");
  });
  server.set_error_handler([](const httplib::Request&, httplib::Response& res) {
    if (res.body.empty()) res.set_content("error " + std::to_string(res.status) + "\n", "text/plain");
  });
  server.Post("/add-checkpoint", [&w](const httplib::Request& req, httplib::Response& res) {
    if (int d = w.delay_ms.load()) std::this_thread::sleep_for(std::chrono::milliseconds(d));
    if (w.mode.load() == 1) {
      res.status = 503;
      res.set_content("down\n", "text/plain");
      return;
    }
    w.AddCheckpoint(req, res);
  });
  server.Post("/control", [&w](const httplib::Request& req, httplib::Response& res) {
    std::string b = req.body;
    if (b == "normal") {
      w.mode = 0;
      w.delay_ms = 0;
    } else if (b == "down") {
      w.mode = 1;
    } else if (b.rfind("slow ", 0) == 0) {
      w.delay_ms = std::stoi(b.substr(5));
    } else if (b == "reset") {
      std::lock_guard<std::mutex> l(w.mu);
      w.state = State{};
      w.Save(w.state);
    } else {
      res.status = 400;
    }
  });
  server.Get("/state", [&w](const httplib::Request&, httplib::Response& res) {
    std::lock_guard<std::mutex> l(w.mu);
    res.set_content(std::to_string(w.state.size) + "\n", "text/plain");
  });
  int bound = port == 0 ? server.bind_to_any_port("127.0.0.1") : (server.bind_to_port("127.0.0.1", port) ? port : -1);
  if (bound < 0) {
    std::cerr << "cannot bind\n";
    return 3;
  }
  std::cout << "vkey " << ledger::FormatVerifierKey(vk) << "\n" << "listening " << bound << std::endl;
  server.listen_after_bind();
  return 0;
}
