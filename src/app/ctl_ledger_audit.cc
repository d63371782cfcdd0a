#include "src/app/ctl_ledger_audit.h"

#include <httplib.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>
#include <thread>

#include "ledger/bundle.h"
#include "ledger/checkpoint.h"
#include "ledger/ledger.h"
#include "ledger/merkle.h"
#include "ledger/note.h"
#include "src/app/data_dir.h"
#include "src/base/bytes.h"
#include "src/base/file_util.h"
#include "src/witness/http_transport.h"

namespace consentd::app {
namespace {

constexpr int kExitOk = 0;
constexpr int kExitFailed = 1;  // verification failed: alarm
constexpr int kExitUsage = 2;
constexpr int kExitError = 3;

struct AuditArgs {
  std::string data_dir;
  uint64_t index = 0;
  std::string out;
  std::string bundle_file;
  std::string verifier_key;
  std::vector<std::string> witness_keys;
  size_t min_cosignatures = 0;
  std::string url;
  std::string state_file;
  double interval_seconds = 10;
  bool once = false;
  std::string token;
};

int Usage(const std::string& msg) {
  std::cerr << "consentctl: " << msg << "\n";
  return kExitUsage;
}

int Error(const std::string& msg) {
  std::cerr << "consentctl: " << msg << "\n";
  return kExitError;
}

// A key given inline ("name+hex+base64") or as a file holding it.
Result<ledger::VerifierKey> LoadKey(const std::string& arg) {
  std::string text = arg;
  if (arg.find('+') == std::string::npos) {
    Result<std::string> f = ReadFile(arg);
    if (!f.ok()) return f.status();
    text = *f;
    while (!text.empty() && (text.back() == '\n' || text.back() == '\r' || text.back() == ' ')) text.pop_back();
  }
  return ledger::ParseVerifierKey(text);
}

int CmdBundle(const AuditArgs& a) {
  Result<DataDir> d = DataDir::Load(a.data_dir);
  if (!d.ok()) return Error(d.status().ToString());
  Result<std::unique_ptr<ledger::Ledger>> l = d->OpenLedger(/*read_only=*/true, nullptr);
  if (!l.ok()) return Error(l.status().ToString());
  Result<ledger::StoredCheckpoint> cp = (*l)->LatestCheckpoint();
  if (!cp.ok()) return Error(cp.status().ToString());
  if (a.index >= cp->checkpoint.size) {
    return Usage("entry " + std::to_string(a.index) + " is not covered by the latest signed checkpoint (size " +
                 std::to_string(cp->checkpoint.size) + ")");
  }
  ledger::ProofBundle b;
  b.has_entry = true;
  b.index = a.index;
  Result<std::string> entry = (*l)->ReadEntry(a.index);
  if (!entry.ok()) return Error(entry.status().ToString());
  Result<std::vector<Hash>> proof = (*l)->InclusionProof(a.index, cp->checkpoint.size);
  if (!proof.ok()) return Error(proof.status().ToString());
  b.entry = std::move(*entry);
  b.proof = std::move(*proof);
  b.checkpoint_note = cp->signed_note;
  std::string text = b.Format();
  if (a.out.empty()) {
    std::cout << text;
    return kExitOk;
  }
  Status s = WriteFileAtomic(a.out, text, 0644);
  if (!s.ok()) return Error(s.ToString());
  std::cerr << "wrote the receipt of entry " << a.index << " (tree size " << cp->checkpoint.size << ") to " << a.out << "\n";
  return kExitOk;
}

int CmdVerifyBundle(const AuditArgs& a) {
  ledger::BundleVerifyOptions o;
  Result<ledger::VerifierKey> k = LoadKey(a.verifier_key);
  if (!k.ok()) return Usage("--verifier-key: " + k.status().message());
  o.log_key = *k;
  for (const std::string& w : a.witness_keys) {
    Result<ledger::VerifierKey> wk = LoadKey(w);
    if (!wk.ok()) return Usage("--witness-key: " + wk.status().message());
    o.witness_keys.push_back(*wk);
  }
  o.min_cosignatures = a.min_cosignatures;
  if (o.min_cosignatures > o.witness_keys.size()) return Usage("--min-cosignatures exceeds the witness keys given");
  Result<std::string> text = ReadFile(a.bundle_file, 2 << 20);
  if (!text.ok()) return Error(text.status().ToString());
  ledger::BundleReport r = ledger::VerifyProofBundle(*text, o);
  std::cout << r.Summary() << "\n";
  return r.ok ? kExitOk : kExitFailed;
}

// --- watch -------------------------------------------------------------------

struct Fetched {
  int status = 0;
  std::string body;
};

class LogClient {
 public:
  static Result<LogClient> Create(const std::string& url, const std::string& token) {
    Result<std::pair<std::string, std::string>> parts = witness::SplitWitnessUrl(url);
    if (!parts.ok()) return Status::InvalidArgument("--url: " + parts.status().message());
    return LogClient(parts->first, parts->second, token);
  }
  Result<Fetched> Get(const std::string& path) {
    try {
      httplib::Client c(base_);
      c.set_connection_timeout(10);
      c.set_read_timeout(30);
      httplib::Headers h;
      if (!token_.empty()) h.emplace("Authorization", "Bearer " + token_);
      httplib::Result r = c.Get(prefix_ + path, h);
      if (!r) return Status::Unavailable("GET " + path + ": " + httplib::to_string(r.error()));
      return Fetched{r->status, r->body};
    } catch (const std::exception& e) {
      return Status::Unavailable("GET " + path + ": " + e.what());
    }
  }

 private:
  LogClient(std::string base, std::string prefix, std::string token)
      : base_(std::move(base)), prefix_(std::move(prefix)), token_(std::move(token)) {}
  std::string base_, prefix_, token_;
};

enum class Verdict { kOk, kAlarm, kUnreachable };

struct Outcome {
  Verdict verdict = Verdict::kOk;
  std::string message;
};

Outcome Alarm(std::string m) { return {Verdict::kAlarm, "ALARM: " + std::move(m)}; }
Outcome Unreachable(std::string m) { return {Verdict::kUnreachable, "cannot check: " + std::move(m)}; }

// Verifies a checkpoint note against the key; returns the checkpoint.
Result<ledger::Checkpoint> VerifiedCheckpoint(const std::string& note_text, const ledger::VerifierKey& key) {
  Result<ledger::Note> note = ledger::ParseNote(note_text);
  if (!note.ok()) return note.status();
  Result<ledger::Checkpoint> cp = ledger::ParseCheckpointBody(note->text);
  if (!cp.ok()) return cp.status();
  if (cp->origin != key.name) return Status::InvalidArgument("origin '" + cp->origin + "' is not the key's name");
  Result<std::vector<std::string>> v = ledger::VerifyNote(*note, {key});
  if (!v.ok()) return v.status();
  if (cp->size == 0 && cp->root != ledger::EmptyRoot()) return Status::InvalidArgument("size 0 with a non-empty root");
  return cp;
}

// One round: fetch, verify, compare with the state, save.
Outcome WatchOnce(LogClient& client, const ledger::VerifierKey& key, const std::string& state_file) {
  Result<Fetched> f = client.Get("/ledger/checkpoint");
  if (!f.ok()) return Unreachable(f.status().message());
  if (f->status != 200) return Unreachable("GET /ledger/checkpoint answered " + std::to_string(f->status));
  Result<ledger::Checkpoint> now = VerifiedCheckpoint(f->body, key);
  if (!now.ok()) return Alarm("the served checkpoint does not verify with the log key: " + now.status().message());
  std::optional<ledger::Checkpoint> before;
  if (!state_file.empty()) {
    Result<std::string> saved = ReadFile(state_file);
    if (saved.ok()) {
      Result<ledger::Checkpoint> b = VerifiedCheckpoint(*saved, key);
      if (!b.ok()) return Unreachable("state file " + state_file + " does not verify: " + b.status().message());
      before = *b;
    } else if (saved.status().code() != StatusCode::kNotFound && ::access(state_file.c_str(), F_OK) == 0) {
      return Unreachable("cannot read state file " + state_file);
    }
  }
  const std::string root = Base64Encode(AsBytes(now->root));
  std::string msg;
  if (!before) {
    msg = "OK: first checkpoint: size " + std::to_string(now->size) + ", root " + root;
  } else if (now->size < before->size) {
    return Alarm("rollback: the log serves a checkpoint of size " + std::to_string(now->size) +
                 ", smaller than the size " + std::to_string(before->size) + " it signed before");
  } else if (now->size == before->size) {
    if (now->root != before->root) {
      return Alarm("fork: two checkpoints of size " + std::to_string(now->size) + " with different roots (" +
                   Base64Encode(AsBytes(before->root)) + " before, " + root + " now)");
    }
    msg = "OK: size " + std::to_string(now->size) + " unchanged, root " + root;
  } else if (before->size == 0) {
    msg = "OK: size " + std::to_string(now->size) + " extends the empty tree, root " + root;
  } else {
    Result<Fetched> p = client.Get("/v1/ledger/proofs/consistency?from=" + std::to_string(before->size) +
                                   "&to=" + std::to_string(now->size));
    if (!p.ok()) return Unreachable(p.status().message());
    if (p->status >= 500 || p->status == 401 || p->status == 403) {
      return Unreachable("consistency proof request answered " + std::to_string(p->status));
    }
    if (p->status != 200) {
      // The log signed `before`, so it must be able to prove consistency from it.
      return Alarm("fork or rollback: the log cannot prove that size " + std::to_string(now->size) +
                   " extends the checkpoint of size " + std::to_string(before->size) + " it signed (HTTP " +
                   std::to_string(p->status) + ")");
    }
    nlohmann::json j = nlohmann::json::parse(p->body, nullptr, false);
    std::vector<Hash> proof;
    bool shape_ok = j.is_object() && j.contains("proof") && j["proof"].is_array() && j["proof"].size() <= 128;
    for (size_t i = 0; shape_ok && i < j["proof"].size(); ++i) {
      Result<std::string> raw =
          j["proof"][i].is_string() ? Base64Decode(j["proof"][i].get<std::string>()) : Result<std::string>(Status::InvalidArgument(""));
      if (!raw.ok() || raw->size() != 32) {
        shape_ok = false;
        break;
      }
      Hash h;
      std::copy(raw->begin(), raw->end(), reinterpret_cast<char*>(h.data()));
      proof.push_back(h);
    }
    if (!shape_ok) return Alarm("fork: the consistency proof from size " + std::to_string(before->size) + " is malformed");
    Status s = ledger::VerifyConsistency(before->size, now->size, before->root, now->root, proof);
    if (!s.ok()) {
      return Alarm("fork: the checkpoint of size " + std::to_string(now->size) +
                   " is not consistent with the checkpoint of size " + std::to_string(before->size) +
                   " seen before (" + s.message() + ")");
    }
    msg = "OK: size " + std::to_string(now->size) + " is consistent with size " + std::to_string(before->size) +
          ", root " + root;
  }
  if (!state_file.empty()) {
    Status s = WriteFileAtomic(state_file, f->body, 0644);
    if (!s.ok()) return Unreachable("cannot save state: " + s.ToString());
  }
  return {Verdict::kOk, msg};
}

int CmdWatch(const AuditArgs& a) {
  Result<ledger::VerifierKey> k = LoadKey(a.verifier_key);
  if (!k.ok()) return Usage("--verifier-key: " + k.status().message());
  if (k->type != 0x01) return Usage("--verifier-key: must be the log's Ed25519 (type 0x01) key");
  std::string token = a.token;
  if (token.empty() && std::getenv("CONSENTD_TOKEN")) token = std::getenv("CONSENTD_TOKEN");
  Result<LogClient> client = LogClient::Create(a.url, token);
  if (!client.ok()) return Usage(client.status().message());
  if (a.interval_seconds < 0.1) return Usage("--interval: at least 0.1 seconds");
  while (true) {
    Outcome o = WatchOnce(*client, *k, a.state_file);
    (o.verdict == Verdict::kOk ? std::cout : std::cerr) << o.message << std::endl;
    if (o.verdict == Verdict::kAlarm) return kExitFailed;
    if (a.once) return o.verdict == Verdict::kOk ? kExitOk : kExitError;
    std::this_thread::sleep_for(std::chrono::milliseconds(static_cast<int64_t>(a.interval_seconds * 1000)));
  }
}

}  // namespace

void AddLedgerAuditCommands(CLI::App& ledger, int* rc) {
  auto args = std::make_shared<AuditArgs>();

  auto* bundle = ledger.add_subcommand("bundle", "write a c2sp.org/tlog-proof receipt of one entry");
  bundle->add_option("--data-dir", args->data_dir)->required();
  bundle->add_option("--index", args->index, "the entry's seq")->required();
  bundle->add_option("--out", args->out, "file to write (default: stdout)");
  bundle->callback([args, rc] { *rc = CmdBundle(*args); });

  auto* vb = ledger.add_subcommand("verify-bundle", "verify a tlog-proof receipt offline");
  vb->add_option("file", args->bundle_file, "the receipt")->required();
  vb->add_option("--verifier-key", args->verifier_key, "the log's verifier key, or a file holding it")->required();
  vb->add_option("--witness-key", args->witness_keys, "a witness cosignature key (repeatable)");
  vb->add_option("--min-cosignatures", args->min_cosignatures, "witness cosignatures required (default 0)");
  vb->callback([args, rc] { *rc = CmdVerifyBundle(*args); });

  auto* watch = ledger.add_subcommand("watch", "follow a consentd ledger and alarm on a fork or rollback");
  watch->add_option("--url", args->url, "consentd base URL, e.g. https://consentd.example:8080")->required();
  watch->add_option("--verifier-key", args->verifier_key, "the log's verifier key, or a file holding it")->required();
  watch->add_option("--state", args->state_file, "file keeping the last verified checkpoint");
  watch->add_option("--interval", args->interval_seconds, "seconds between checks (default 10)");
  watch->add_flag("--once", args->once, "check once and exit");
  watch->add_option("--token", args->token, "bearer token with scope auditor (default: $CONSENTD_TOKEN)");
  watch->callback([args, rc] { *rc = CmdWatch(*args); });
}

}  // namespace consentd::app
