// consentctl: the command-line tool of consentd (docs/cli.md).
//
// Exit codes: 0 success; 1 verification failed (the ledger or file is bad);
// 2 usage or input error; 3 operational error (I/O, missing data directory).
#include <sys/stat.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <iostream>
#include <optional>

#include "ledger/exporter.h"
#include "ledger/ledger.h"
#include "ledger/verifier.h"
#include "src/app/ctl_ledger_audit.h"
#include "src/app/ctl_propagation.h"
#include "src/app/ctl_erasure.h"
#include "src/app/data_dir.h"
#include "policies/check.h"
#include "src/auth/scope.h"
#include "src/identity/key_commands.h"
#include "src/base/bytes.h"
#include "src/base/time_format.h"
#include "src/service/import.h"
#include "src/service/rebuild.h"
#include "src/service/runtime.h"
#include "src/api/consent_codec.h"

namespace consentd::app {
namespace {

constexpr int kExitVerifyFailed = 1;
constexpr int kExitUsage = 2;
constexpr int kExitError = 3;

int Fail(const Status& s) {
  std::cerr << "consentctl: " << s.ToString() << "\n";
  return s.code() == StatusCode::kInvalidArgument ? kExitUsage : kExitError;
}

// Progress on a terminal only; a pipe or file gets just the summary.
std::function<void(uint64_t, uint64_t)> TerminalProgress(const char* verb) {
  if (!::isatty(STDERR_FILENO)) return nullptr;
  return [verb](uint64_t done, uint64_t total) {
    if (total > 0) {
      std::fprintf(stderr, "\r%s %llu/%llu entries (%3.0f%%)", verb, static_cast<unsigned long long>(done),
                   static_cast<unsigned long long>(total), 100.0 * static_cast<double>(done) / static_cast<double>(total));
    } else {
      std::fprintf(stderr, "\r%s %llu entries", verb, static_cast<unsigned long long>(done));
    }
    if (done == total) std::fputc('\n', stderr);
    std::fflush(stderr);
  };
}

Result<std::string> ReadTrimmedKey(const std::string& arg) {
  // A verifier key is given inline or as a file holding it.
  if (arg.find('+') != std::string::npos) return arg;
  Result<std::string> text = ReadFile(arg);
  if (!text.ok()) return text.status();
  std::string k = *text;
  while (!k.empty() && (k.back() == '\n' || k.back() == '\r' || k.back() == ' ')) k.pop_back();
  return k;
}

struct Context {
  std::string data_dir;
  std::string key_dir;
  std::string origin;
  std::string kind = "demo.note";
  std::string payload;
  int count = 1;
  std::string checkpoint_file;
  std::string verifier_key;
  std::string export_file;
  std::string out;
  bool no_sign = false;
  std::optional<uint64_t> index;
  std::optional<uint64_t> size;
  std::vector<uint64_t> consistency;
  std::string token_name;
  std::string scopes;
  std::string token_id;
  std::vector<std::string> policy_files;
  uint64_t max_rows = 0;
  bool retire_old_keys = false;
  std::string import_file;
  std::string import_format;
  size_t max_listed = 100;
  size_t batch_events = 0;  // import: 0 keeps ImportOptions' default
  bool check = false;
};

Result<std::unique_ptr<service::Runtime>> OpenRuntime(const std::string& data_dir);

int CmdPolicyCheck(const Context& c) {
  policies::CheckReport report = policies::CheckFiles(c.policy_files);
  std::cout << report.ToText();
  return report.ok() ? 0 : kExitVerifyFailed;
}

// Rotations rewrite many rows: they take the data directory's lock, so they
// never run beside consentd.
int CmdRotate(const Context& c, bool kek) {
  Result<DataDir> d = DataDir::Load(c.data_dir);
  if (!d.ok()) return Fail(d.status());
  Result<int> lock = LockDataDir(d->data_dir);
  if (!lock.ok()) return Fail(lock.status());
  Result<std::unique_ptr<service::Runtime>> rt = OpenRuntime(c.data_dir);
  if (!rt.ok()) return Fail(rt.status());
  vault::RotationOptions o;
  o.max_rows = c.max_rows;
  o.retire_old_keys = c.retire_old_keys;
  service::Runtime& r = **rt;
  Result<vault::RotationProgress> p =
      kek ? identity::RotateKek(r.config().database_path(), r.ledger(), r.keys(), o, r.clock())
          : identity::RotateBlindIndex(r.config().database_path(), r.ledger(), r.keys(), o, r.clock());
  if (!p.ok()) return Fail(p.status());
  std::cout << p->secret << ": moved " << p->rows_this_run << " rows to key " << p->to_key_id << ", "
            << p->rows_remaining << " remaining" << (p->finished ? " (finished)" : " (run again to resume)") << "\n";
  return 0;
}

Result<std::unique_ptr<service::Runtime>> OpenRuntime(const std::string& data_dir) {
  Result<DataDir> d = DataDir::Load(data_dir);
  if (!d.ok()) return d.status();
  Result<service::Config> config = service::Config::Load(d->config_path());
  if (!config.ok()) return config.status();
  service::RuntimeOptions o;
  o.require_signer = false;
  return service::Runtime::Open(*config, o);
}

int CmdTokenCreate(const Context& c) {
  Result<std::vector<auth::Scope>> scopes = auth::ParseScopes(c.scopes);
  if (!scopes.ok()) return Fail(scopes.status());
  Result<std::unique_ptr<service::Runtime>> rt = OpenRuntime(c.data_dir);
  if (!rt.ok()) return Fail(rt.status());
  Result<std::string> token = (*rt)->tokens().Create(c.token_name, *scopes);
  if (!token.ok()) return Fail(token.status());
  std::cerr << "token id " << token->substr(4, 16) << " created; it is shown once, store it now\n";
  std::cout << *token << "\n";
  return 0;
}

int CmdTokenRevoke(const Context& c) {
  Result<std::unique_ptr<service::Runtime>> rt = OpenRuntime(c.data_dir);
  if (!rt.ok()) return Fail(rt.status());
  Status s = (*rt)->tokens().Revoke(c.token_id);
  if (!s.ok()) return Fail(s);
  std::cout << "revoked " << c.token_id << "\n";
  return 0;
}

int CmdTokenList(const Context& c) {
  Result<std::unique_ptr<service::Runtime>> rt = OpenRuntime(c.data_dir);
  if (!rt.ok()) return Fail(rt.status());
  Result<std::vector<auth::TokenInfo>> list = (*rt)->tokens().List();
  if (!list.ok()) return Fail(list.status());
  for (const auth::TokenInfo& t : *list) {
    std::string scopes;
    for (const auth::Scope& s : t.scopes) scopes += (scopes.empty() ? "" : ",") + s.Name();
    std::cout << t.id << "\t" << scopes << "\t" << FormatTimestampMillis(t.created_millis) << "\t"
              << (t.revoked_millis ? "revoked " + FormatTimestampMillis(t.revoked_millis) : "active") << "\t" << t.name
              << "\n";
  }
  return 0;
}

int CmdInit(const Context& c) {
  Result<DataDir> d = DataDir::Init(c.data_dir, c.key_dir, c.origin);
  if (!d.ok()) return Fail(d.status());
  Result<ledger::Signer> signer = d->LoadSigner();
  if (!signer.ok()) return Fail(signer.status());
  std::cerr << "initialized " << d->data_dir << " (keys in " << d->key_dir << ")\n";
  std::cout << signer->verifier_key_string() << "\n";
  return 0;
}

// Opens the data dir; with the signer when it can be read.
struct Opened {
  DataDir dir;
  std::unique_ptr<ledger::Signer> signer;  // stable address: the ledger keeps a pointer
  std::unique_ptr<ledger::Ledger> ledger;
};

Result<Opened> OpenDataDir(const std::string& data_dir, bool read_only, bool need_signer) {
  Result<DataDir> d = DataDir::Load(data_dir);
  if (!d.ok()) return d.status();
  Opened o{*d, nullptr, nullptr};
  Result<ledger::Signer> s = d->LoadSigner();
  if (s.ok()) {
    o.signer = std::make_unique<ledger::Signer>(std::move(*s));
  } else if (need_signer || s.status().code() != StatusCode::kNotFound) {
    // A key that exists but is exposed or unreadable is an error, not an
    // absent key: refuse before anything is recorded.
    return s.status();
  }
  Result<std::unique_ptr<ledger::Ledger>> l = d->OpenLedger(read_only, o.signer.get());
  if (!l.ok()) return l.status();
  o.ledger = std::move(*l);
  return o;
}

int CmdAppend(const Context& c) {
  Result<Opened> o = OpenDataDir(c.data_dir, false, false);
  if (!o.ok()) return Fail(o.status());
  for (int i = 0; i < c.count; ++i) {
    Result<std::vector<ledger::AppendedEntry>> r = o->ledger->Append({{c.kind, c.payload}});
    if (!r.ok()) return Fail(r.status());
    std::cout << (*r)[0].seq << "\n";
  }
  return 0;
}

Result<std::vector<ledger::VerifierKey>> VerifierKeys(const Context& c, const Opened* o) {
  std::vector<ledger::VerifierKey> keys;
  if (!c.verifier_key.empty()) {
    Result<std::string> text = ReadTrimmedKey(c.verifier_key);
    if (!text.ok()) return text.status();
    Result<ledger::VerifierKey> k = ledger::ParseVerifierKey(*text);
    if (!k.ok()) return k.status();
    keys.push_back(*k);
  } else if (o && o->signer) {
    keys.push_back(o->signer->verifier_key());
  } else {
    return Status::InvalidArgument("--verifier-key is required");
  }
  return keys;
}

int CmdVerify(const Context& c) {
  ledger::VerifyOptions opts;
  if (!c.checkpoint_file.empty()) {
    Result<std::string> note = ReadFile(c.checkpoint_file);
    if (!note.ok()) return Fail(note.status());
    opts.trusted_checkpoints.push_back(*note);
  }
  ledger::VerifyReport report;
  if (!c.export_file.empty()) {
    Result<std::vector<ledger::VerifierKey>> keys = VerifierKeys(c, nullptr);
    if (!keys.ok()) return Fail(keys.status());
    opts.keys = *keys;
    std::vector<std::string> notes;
    Result<std::string> side = ReadFile(c.export_file + ".checkpoint");
    if (side.ok()) notes.push_back(*side);
    opts.progress = TerminalProgress("verified");
    report = ledger::VerifyExport(c.export_file, notes, opts);
  } else {
    Result<Opened> o = OpenDataDir(c.data_dir, true, false);
    if (!o.ok()) return Fail(o.status());
    Result<std::vector<ledger::VerifierKey>> keys = VerifierKeys(c, &*o);
    if (!keys.ok()) return Fail(keys.status());
    opts.keys = *keys;
    opts.progress = TerminalProgress("verified");
    report = ledger::VerifyLedger(*o->ledger, opts);
  }
  std::cout << report.Summary() << "\n";
  return report.ok ? 0 : kExitVerifyFailed;
}

// Signs a checkpoint if the tree grew and the key is here; returns the latest.
Result<ledger::StoredCheckpoint> CurrentCheckpoint(Opened& o, bool sign) {
  if (sign && o.signer) return o.ledger->SignCheckpoint();
  return o.ledger->LatestCheckpoint();
}

int CmdExport(const Context& c) {
  Result<Opened> o = OpenDataDir(c.data_dir, false, false);
  if (!o.ok()) return Fail(o.status());
  Result<ledger::StoredCheckpoint> cp = CurrentCheckpoint(*o, !c.no_sign);
  if (!cp.ok()) return Fail(cp.status());
  std::string tmp = c.out + ".tmp";
  std::FILE* f = std::fopen(tmp.c_str(), "wb");
  if (!f) return Fail(Status::IOError("cannot create " + tmp));
  Status s = ledger::ExportEntries(*o->ledger, cp->checkpoint.size, f, TerminalProgress("exported"));
  if (std::fclose(f) != 0 && s.ok()) s = Status::IOError("cannot close " + tmp);
  if (s.ok() && std::rename(tmp.c_str(), c.out.c_str()) != 0) s = Status::IOError("cannot rename " + tmp);
  if (s.ok()) s = WriteFileAtomic(c.out + ".checkpoint", cp->signed_note, 0644);
  if (!s.ok()) {
    std::remove(tmp.c_str());
    return Fail(s);
  }
  std::cout << "exported " << cp->checkpoint.size << " entries to " << c.out << " (checkpoint in " << c.out
            << ".checkpoint)\n";
  return 0;
}

int CmdCheckpoint(const Context& c) {
  Result<Opened> o = OpenDataDir(c.data_dir, false, false);
  if (!o.ok()) return Fail(o.status());
  Result<ledger::StoredCheckpoint> cp = CurrentCheckpoint(*o, !c.no_sign);
  if (!cp.ok()) return Fail(cp.status());
  std::cout << cp->signed_note;
  return 0;
}

int CmdVerifierKey(const Context& c) {
  Result<DataDir> d = DataDir::Load(c.data_dir);
  if (!d.ok()) return Fail(d.status());
  Result<ledger::Signer> s = d->LoadSigner();
  if (!s.ok()) return Fail(s.status());
  std::cout << s->verifier_key_string() << "\n";
  return 0;
}

int CmdProve(const Context& c) {
  Result<Opened> o = OpenDataDir(c.data_dir, true, false);
  if (!o.ok()) return Fail(o.status());
  // Proofs only against signed sizes: anything else could not be checked
  // against a checkpoint by the reader.
  auto require_signed = [&](uint64_t size) -> Status {
    Result<ledger::StoredCheckpoint> cp = o->ledger->CheckpointAt(size);
    if (!cp.ok()) return Status::InvalidArgument("size " + std::to_string(size) + " has no signed checkpoint");
    return Status::Ok();
  };
  Result<std::vector<Hash>> proof = Status::Internal("unset");
  if (!c.consistency.empty()) {
    if (c.consistency.size() != 2) return Fail(Status::InvalidArgument("--consistency takes M N"));
    for (uint64_t s : c.consistency) {
      Status st = require_signed(s);
      if (!st.ok()) return Fail(st);
    }
    proof = o->ledger->ConsistencyProof(c.consistency[0], c.consistency[1]);
  } else if (c.index) {
    uint64_t size;
    if (c.size) {
      size = *c.size;
      Status st = require_signed(size);
      if (!st.ok()) return Fail(st);
    } else {
      Result<ledger::StoredCheckpoint> cp = o->ledger->LatestCheckpoint();
      if (!cp.ok()) return Fail(cp.status());
      size = cp->checkpoint.size;
    }
    std::cerr << "inclusion proof of entry " << *c.index << " in the tree of size " << size << "\n";
    proof = o->ledger->InclusionProof(*c.index, size);
  } else {
    return Fail(Status::InvalidArgument("give --index I [--size N] or --consistency M N"));
  }
  if (!proof.ok()) return Fail(proof.status());
  for (const Hash& h : *proof) std::cout << Base64Encode(AsBytes(h)) << "\n";
  return 0;
}

// --- import and rebuild (docs/import.md) ------------------------------------

// Decodes a JSON Lines row with the API's codec, so that a row means what
// the same object means in POST /v1/consents.
Status DecodeJsonRow(std::string_view line, service::ConsentEvent* out) {
  nlohmann::json j = nlohmann::json::parse(line.begin(), line.end(), nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return Status::InvalidArgument("not valid JSON");
  if (!j.is_object()) return Status::InvalidArgument("not a JSON object");
  if (std::optional<http::Problem> p = api::DecodeConsentEvent(j, "", out)) return Status::InvalidArgument(p->detail);
  return Status::Ok();
}

// Exit 0 when every row was recorded or already there, 1 when rows were
// rejected (the summary lists them), 2/3 as usual.
int CmdImport(const Context& c) {
  service::ImportOptions o;
  o.format = service::ImportFormatOf(c.import_file);
  if (!c.import_format.empty()) {
    Result<service::ImportFormat> f = service::ParseImportFormat(c.import_format);
    if (!f.ok()) return Fail(f.status());
    o.format = *f;
  }
  o.decode_json = DecodeJsonRow;
  o.max_listed = c.max_listed;
  if (c.batch_events > 0) o.batch_events = c.batch_events;
  if (::isatty(STDERR_FILENO)) {
    o.progress = [](const service::ImportProgress& p) {
      std::fprintf(stderr, "\rimported %llu rows (%llu rejected), %3.0f%%", static_cast<unsigned long long>(p.rows),
                   static_cast<unsigned long long>(p.rejected),
                   p.total_bytes ? 100.0 * static_cast<double>(p.bytes_read) / static_cast<double>(p.total_bytes) : 0.0);
      std::fflush(stderr);
    };
  }
  Result<std::unique_ptr<service::Runtime>> rt = OpenRuntime(c.data_dir);
  if (!rt.ok()) return Fail(rt.status());
  Result<service::ImportReport> r = service::ImportFile((*rt)->consents(), c.import_file, o);
  if (o.progress) std::fputc('\n', stderr);
  if (!r.ok()) return Fail(r.status());
  std::cout << r->ToText();
  return r->rejected == 0 ? 0 : kExitVerifyFailed;
}

// Exit 0 when consent_state equals the ledger's replay, 1 otherwise.
int CmdRebuildCheck(const Context& c) {
  if (!c.check) return Fail(Status::InvalidArgument("rebuild: only --check is supported (the table is never rewritten)"));
  Result<std::unique_ptr<service::Runtime>> rt = OpenRuntime(c.data_dir);
  if (!rt.ok()) return Fail(rt.status());
  service::RebuildOptions o;
  o.max_listed = c.max_listed;
  o.progress = TerminalProgress("replayed");
  Result<service::RebuildReport> r =
      service::CheckConsentProjection((*rt)->config().database_path(), *(*rt)->policy(), o);
  if (!r.ok()) return Fail(r.status());
  std::cout << r->ToText();
  return r->equal() ? 0 : kExitVerifyFailed;
}

}  // namespace
}  // namespace consentd::app

int main(int argc, char** argv) {
  using namespace consentd::app;
  ::umask(077);  // the data directory holds secrets-adjacent data: owner only
  CLI::App app{"consentctl: operate a consentd data directory and verify its ledger"};
  app.require_subcommand(1);
  Context c;
  int rc = 0;

  auto* init = app.add_subcommand("init", "create a data directory, its key directory and ledger");
  init->add_option("--data-dir", c.data_dir, "data directory to create")->required();
  init->add_option("--key-dir", c.key_dir, "key directory (default: <data-dir>.keys)");
  init->add_option("--origin", c.origin, "ledger origin, e.g. example.com/consent-ledger");
  init->callback([&] { rc = CmdInit(c); });

  auto* ledger_cmd = app.add_subcommand("ledger", "inspect, verify, export and prove the ledger");
  ledger_cmd->require_subcommand(1);
  AddLedgerAuditCommands(*ledger_cmd, &rc);  // bundle, verify-bundle, watch

  auto* append = ledger_cmd->add_subcommand("append", "append an entry (for demos and tests)");
  append->add_option("--data-dir", c.data_dir)->required();
  append->add_option("--kind", c.kind, "entry kind, [a-z0-9._:-]{1,64}");
  append->add_option("--payload", c.payload, "payload: one JSON object")->required();
  append->add_option("--count", c.count, "append this many copies")->check(CLI::Range(1, 10000000));
  append->callback([&] { rc = CmdAppend(c); });

  auto* verify = ledger_cmd->add_subcommand("verify", "verify every entry, the chain, the tree and checkpoints");
  verify->add_option("--data-dir", c.data_dir, "verify this data directory's ledger");
  verify->add_option("--export", c.export_file, "verify an export file instead (with FILE.checkpoint)");
  verify->add_option("--checkpoint", c.checkpoint_file, "a signed checkpoint saved earlier that the ledger must extend");
  verify->add_option("--verifier-key", c.verifier_key, "verifier key, or a file holding it");
  verify->callback([&] {
    if (c.data_dir.empty() == c.export_file.empty()) {
      std::cerr << "consentctl: give exactly one of --data-dir and --export\n";
      rc = 2;
      return;
    }
    rc = CmdVerify(c);
  });

  auto* exp = ledger_cmd->add_subcommand("export", "write entries as JSON Lines, exactly as hashed");
  exp->add_option("--data-dir", c.data_dir)->required();
  exp->add_option("--out", c.out, "output file; FILE.checkpoint gets the covering checkpoint")->required();
  exp->add_flag("--no-sign", c.no_sign, "export up to the latest checkpoint instead of signing a new one");
  exp->callback([&] { rc = CmdExport(c); });

  auto* cp = ledger_cmd->add_subcommand("checkpoint", "print the latest signed checkpoint (signing one if the tree grew)");
  cp->add_option("--data-dir", c.data_dir)->required();
  cp->add_flag("--no-sign", c.no_sign, "only print the latest stored checkpoint");
  cp->callback([&] { rc = CmdCheckpoint(c); });

  auto* vk = ledger_cmd->add_subcommand("verifier-key", "print the checkpoint verifier key");
  vk->add_option("--data-dir", c.data_dir)->required();
  vk->callback([&] { rc = CmdVerifierKey(c); });

  auto* prove = ledger_cmd->add_subcommand("prove", "print an inclusion or consistency proof (base64, one per line)");
  prove->add_option("--data-dir", c.data_dir)->required();
  prove->add_option("--index", c.index, "entry index for an inclusion proof");
  prove->add_option("--size", c.size, "tree size (a signed size; default: the latest checkpoint)");
  prove->add_option("--consistency", c.consistency, "M N: consistency proof between two signed sizes")->expected(2);
  prove->callback([&] { rc = CmdProve(c); });

  auto* token = app.add_subcommand("token", "create, revoke and list API bearer tokens");
  token->require_subcommand(1);
  auto* tcreate = token->add_subcommand("create", "create a token (printed once on stdout)");
  tcreate->add_option("--data-dir", c.data_dir)->required();
  tcreate->add_option("--name", c.token_name, "who or what uses it (1..64 bytes)")->required();
  tcreate->add_option("--scope", c.scopes, "comma-separated: officer, marketing, auditor, admin, ingest:<system>")
      ->required();
  tcreate->callback([&] { rc = CmdTokenCreate(c); });
  auto* trevoke = token->add_subcommand("revoke", "revoke a token by id");
  trevoke->add_option("--data-dir", c.data_dir)->required();
  trevoke->add_option("--id", c.token_id, "16 hex digits")->required();
  trevoke->callback([&] { rc = CmdTokenRevoke(c); });
  auto* tlist = token->add_subcommand("list", "list tokens (never their secrets)");
  tlist->add_option("--data-dir", c.data_dir)->required();
  tlist->callback([&] { rc = CmdTokenList(c); });

  auto* policy = app.add_subcommand("policy", "policy documents");
  policy->require_subcommand(1);
  auto* pcheck = policy->add_subcommand("check", "validate policy files exactly as consentd loads them");
  pcheck->add_option("files", c.policy_files, "policy files, merged in order")->required()->check(CLI::ExistingFile);
  pcheck->callback([&] { rc = CmdPolicyCheck(c); });

  auto* keys = app.add_subcommand("keys", "rotate the vault's keys (run with consentd stopped; restartable)");
  keys->require_subcommand(1);
  for (bool kek : {true, false}) {
    auto* rot = keys->add_subcommand(kek ? "rotate-kek" : "rotate-bidx",
                                     kek ? "new key-encryption key; rewrap every subject key"
                                         : "new blind-index key; re-index every identifier");
    rot->add_option("--data-dir", c.data_dir)->required();
    rot->add_option("--max-rows", c.max_rows, "stop after this many rows (resume by running again)");
    rot->add_flag("--retire-old-keys", c.retire_old_keys, "delete old key files once no row uses them");
    rot->callback([&, kek] { rc = CmdRotate(c, kek); });
  }

  auto* import = app.add_subcommand("import", "backfill historical consent events (JSON Lines or CSV, docs/import.md)");
  import->add_option("file", c.import_file, "the file to import")->required();
  import->add_option("--format", c.import_format, "jsonl or csv (default: csv for *.csv, else jsonl)");
  import->add_option("--data-dir", c.data_dir)->required();
  import->add_option("--max-listed", c.max_listed, "rejected rows to list (all are counted)");
  import->add_option("--batch-events", c.batch_events,
                     "largest events per durable batch (default 262144; the first is 16384 and each next one "
                     "doubles; smaller needs less memory, larger less CPU)")
      ->check(CLI::Range(size_t{1}, size_t{1} << 20));  // memory grows with it: 2^18 peaks at ~2.3 GB resident
  import->callback([&] { rc = CmdImport(c); });

  auto* rebuild = app.add_subcommand("rebuild", "rebuild the consent state from the ledger in memory and compare");
  rebuild->add_option("--data-dir", c.data_dir)->required();
  rebuild->add_flag("--check", c.check, "compare with consent_state and report differences (required)");
  rebuild->add_option("--max-listed", c.max_listed, "differences to list (all are counted)");
  rebuild->callback([&] { rc = CmdRebuildCheck(c); });

  RegisterPropagationCommands(app, &rc);  // dlq, system

  RegisterErasureCommands(app, &rc);

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int code = app.exit(e);
    return code == 0 ? 0 : 2;
  }
  return rc;
}
