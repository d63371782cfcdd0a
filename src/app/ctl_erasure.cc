#include "src/app/ctl_erasure.h"

#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>

#include "ledger/note.h"
#include "src/api/erasure_routes.h"
#include "src/app/data_dir.h"
#include "src/base/file_util.h"
#include "src/base/time_format.h"
#include "src/erasure/certificate.h"
#include "src/service/runtime.h"

namespace consentd::app {
namespace {

constexpr int kExitVerifyFailed = 1;
constexpr int kExitUsage = 2;
constexpr int kExitError = 3;

int Fail(const Status& s) {
  std::cerr << "consentctl: " << s.ToString() << "\n";
  return s.code() == StatusCode::kInvalidArgument || s.code() == StatusCode::kFailedPrecondition ||
                 s.code() == StatusCode::kNotFound
             ? kExitUsage
             : kExitError;
}

struct Args {
  std::string data_dir;
  std::string id;
  std::vector<std::string> emails, phones, identifiers;
  std::string jurisdiction, channel = "officer", received_at, requester = "consentctl", client_reference;
  bool verified = false;
  std::string reason;
  std::string state, due_before;
  int due_within = -1;
  bool overdue = false;
  size_t limit = 100;
  std::string out, file, verifier_key;
};

Result<std::unique_ptr<service::Runtime>> Open(const std::string& data_dir) {
  Result<DataDir> d = DataDir::Load(data_dir);
  if (!d.ok()) return d.status();
  Result<service::Config> config = service::Config::Load(d->config_path());
  if (!config.ok()) return config.status();
  service::RuntimeOptions o;
  o.require_signer = false;
  return service::Runtime::Open(*config, o);
}

// KIND=VALUE or KIND@QUALIFIER=VALUE.
Result<domain::Identifier> ParseIdentifierArg(const std::string& arg) {
  size_t eq = arg.find('=');
  if (eq == std::string::npos || eq == 0) return Status::InvalidArgument("--identifier: expected KIND=VALUE or KIND@QUALIFIER=VALUE");
  std::string kind = arg.substr(0, eq), qualifier;
  size_t at = kind.find('@');
  if (at != std::string::npos) {
    qualifier = kind.substr(at + 1);
    kind = kind.substr(0, at);
  }
  Result<domain::IdentifierKind> k = domain::IdentifierKind::Parse(kind);
  if (!k.ok()) return Status::InvalidArgument("--identifier: " + k.status().message());
  return domain::Identifier{*k, arg.substr(eq + 1), qualifier};
}

void Print(service::Runtime& rt, const std::string& id) {
  Result<erasure::ErasureRequest> r = rt.erasure().Get(id);
  if (r.ok()) std::cout << api::EncodeErasureRequest(*r, rt.clock().NowMillis()).dump(2) << "\n";
}

int CmdFile(const Args& a) {
  service::ErasureIntakeRequest in;
  for (const std::string& e : a.emails) in.identifiers.push_back({domain::IdentifierKind::Email(), e, ""});
  for (const std::string& p : a.phones) in.identifiers.push_back({domain::IdentifierKind::Phone(), p, ""});
  for (const std::string& s : a.identifiers) {
    Result<domain::Identifier> id = ParseIdentifierArg(s);
    if (!id.ok()) return Fail(id.status());
    in.identifiers.push_back(*id);
  }
  in.jurisdiction = a.jurisdiction;
  in.channel = a.channel;
  in.requester = a.requester;
  in.verified = a.verified;
  in.source_reference = a.client_reference;
  Result<std::unique_ptr<service::Runtime>> rt = Open(a.data_dir);
  if (!rt.ok()) return Fail(rt.status());
  in.received_at_ms = (*rt)->clock().NowMillis();
  if (!a.received_at.empty()) {
    Result<int64_t> t = ParseRfc3339(a.received_at);
    if (!t.ok()) return Fail(Status::InvalidArgument("--received-at: not an RFC 3339 time"));
    in.received_at_ms = *t;
  }
  Result<service::ErasureIntakeResult> r = (*rt)->erasure().File(in);
  if (!r.ok()) return Fail(r.status());
  if (r->linked_to_open) std::cerr << "consentctl: linked to the open request " << r->request_id << "\n";
  Print(**rt, r->request_id);
  return 0;
}

int CmdList(const Args& a) {
  erasure::ListFilter f;
  if (!a.state.empty()) {
    std::optional<erasure::RequestState> s = erasure::ParseState(a.state);
    if (!s) return Fail(Status::InvalidArgument("--state: unknown state"));
    f.state = *s;
  }
  if (!a.due_before.empty()) {
    Result<erasure::DayNumber> d = erasure::ParseDay(a.due_before);
    if (!d.ok()) return Fail(Status::InvalidArgument("--due-before: " + d.status().message()));
    f.due_before = *d;
  }
  f.overdue = a.overdue;
  f.limit = a.limit;
  Result<std::unique_ptr<service::Runtime>> rt = Open(a.data_dir);
  if (!rt.ok()) return Fail(rt.status());
  const int64_t now = (*rt)->clock().NowMillis();
  if (a.due_within >= 0) {
    erasure::DayNumber d = erasure::DayOf(now) + a.due_within;
    f.due_before = f.due_before ? std::min(*f.due_before, d) : d;
  }
  Result<std::vector<erasure::ErasureRequest>> list = (*rt)->erasure().List(f);
  if (!list.ok()) return Fail(list.status());
  std::cout << "id                   state                due         jurisdiction  systems done/total\n";
  for (const erasure::ErasureRequest& r : *list) {
    size_t done = 0;
    for (const erasure::SystemProgress& p : r.systems) done += p.status != "pending";
    std::printf("%-20s %-20s %-11s %-13s %zu/%zu%s\n", r.id.c_str(), std::string(erasure::StateName(r.state)).c_str(),
                erasure::FormatDay(r.due).c_str(), r.jurisdiction.c_str(), done, r.systems.size(),
                r.Overdue(now) ? "  OVERDUE" : "");
  }
  return 0;
}

int CmdShow(const Args& a) {
  Result<std::unique_ptr<service::Runtime>> rt = Open(a.data_dir);
  if (!rt.ok()) return Fail(rt.status());
  Result<erasure::ErasureRequest> r = (*rt)->erasure().Get(a.id);
  if (!r.ok()) return Fail(r.status());
  Print(**rt, a.id);
  return 0;
}

int CmdChange(const Args& a, const std::string& what) {
  Result<std::unique_ptr<service::Runtime>> rt = Open(a.data_dir);
  if (!rt.ok()) return Fail(rt.status());
  erasure::ErasureService& e = (*rt)->erasure();
  Status s = what == "verify" ? e.Verify(a.id)
             : what == "reject" ? e.Reject(a.id, a.reason)
             : what == "extend" ? e.Extend(a.id, a.reason)
                                : e.Cancel(a.id, a.reason);
  if (!s.ok()) return Fail(s);
  Print(**rt, a.id);
  return 0;
}

int CmdCertificateShow(const Args& a) {
  Result<std::unique_ptr<service::Runtime>> rt = Open(a.data_dir);
  if (!rt.ok()) return Fail(rt.status());
  if ((*rt)->signer() == nullptr) return Fail(Status::FailedPrecondition("the checkpoint signing key is not readable"));
  Result<std::string> cert = (*rt)->erasure().Certificate(a.id, *(*rt)->signer());
  if (!cert.ok()) return Fail(cert.status());
  if (a.out.empty()) {
    std::cout << *cert;
    return 0;
  }
  Status s = WriteFileAtomic(a.out, *cert, 0644);
  if (!s.ok()) return Fail(s);
  return 0;
}

int CmdCertificateVerify(const Args& a) {
  std::string k = a.verifier_key;
  if (k.find('+') == std::string::npos) {
    Result<std::string> text = ReadFile(k);
    if (!text.ok()) return Fail(text.status());
    k = *text;
    while (!k.empty() && (k.back() == '\n' || k.back() == '\r' || k.back() == ' ')) k.pop_back();
  }
  Result<ledger::VerifierKey> key = ledger::ParseVerifierKey(k);
  if (!key.ok()) return Fail(Status::InvalidArgument("--verifier-key: " + key.status().message()));
  Result<std::string> text = ReadFile(a.file, 64 << 20);
  if (!text.ok()) return Fail(text.status());
  Result<erasure::CertificateReport> rep = erasure::VerifyCertificate(*text, {*key});
  if (!rep.ok()) {
    std::cout << "FAIL: " << rep.status().message() << "\n";
    return kExitVerifyFailed;
  }
  if (rep->ok()) {
    std::cout << "OK: request " << rep->request_id << " (" << rep->state << "), " << rep->entries_verified
              << " entries proven against the signed checkpoint of size " << rep->checkpoint_size << "\n";
    return 0;
  }
  std::cout << "FAIL: request " << rep->request_id << ": " << rep->problems.size() << " problem(s)\n";
  for (const std::string& p : rep->problems) std::cout << "  " << p << "\n";
  return kExitVerifyFailed;
}

}  // namespace

void RegisterErasureCommands(CLI::App& app, int* rc) {
  auto a = std::make_shared<Args>();
  auto* request = app.add_subcommand("request", "erasure requests (docs/erasure.md)");
  request->require_subcommand(1);

  auto* file = request->add_subcommand("file", "file an erasure request (prints it as JSON)");
  file->add_option("--data-dir", a->data_dir)->required();
  file->add_option("--email", a->emails, "an email address of the subject (repeatable)");
  file->add_option("--phone", a->phones, "a phone number (repeatable)");
  file->add_option("--identifier", a->identifiers, "KIND=VALUE or KIND@QUALIFIER=VALUE (repeatable)");
  file->add_option("--jurisdiction", a->jurisdiction, "a policy jurisdiction id (default: the policy's)");
  file->add_option("--channel", a->channel, "how it was received: email, phone, web_form, ... (default officer)");
  file->add_option("--received-at", a->received_at, "RFC 3339 time of receipt (default: now)");
  file->add_option("--requester", a->requester, "who files it: a name of the desk or tool, never the subject's");
  file->add_flag("--verified", a->verified, "the requester's identity is verified: propagate at once");
  file->add_option("--client-reference", a->client_reference, "your ticket id; filing it again is a no-op");
  file->callback([a, rc] { *rc = CmdFile(*a); });

  auto* list = request->add_subcommand("list", "list requests by due date");
  list->add_option("--data-dir", a->data_dir)->required();
  list->add_option("--state", a->state, "received, verified, rejected, propagating, completed, partially_completed, cancelled");
  list->add_option("--due-before", a->due_before, "YYYY-MM-DD: due on or before");
  list->add_option("--due-within", a->due_within, "due within N days")->check(CLI::Range(0, 9999));
  list->add_flag("--overdue", a->overdue, "open and past the deadline");
  list->add_option("--limit", a->limit, "at most N")->check(CLI::Range(1, 10000));
  list->callback([a, rc] { *rc = CmdList(*a); });

  auto* show = request->add_subcommand("show", "one request with per-system progress (JSON)");
  show->add_option("--data-dir", a->data_dir)->required();
  show->add_option("id", a->id, "request id (er_...)")->required();
  show->callback([a, rc] { *rc = CmdShow(*a); });

  for (const char* what : {"verify", "reject", "extend", "cancel"}) {
    const std::string w = what;
    auto* c = request->add_subcommand(w, w == "verify"   ? "the requester is verified: start propagation"
                                         : w == "reject" ? "refuse the request (reason code required)"
                                         : w == "extend" ? "extend the deadline once (reason code required)"
                                                         : "cancel before propagation (reason code required)");
    c->add_option("--data-dir", a->data_dir)->required();
    c->add_option("id", a->id, "request id (er_...)")->required();
    if (w != "verify") c->add_option("--reason", a->reason, "a reason code, e.g. identity_not_verified")->required();
    c->callback([a, rc, w] { *rc = CmdChange(*a, w); });
  }

  auto* cert = app.add_subcommand("certificate", "certificates of erasure");
  cert->require_subcommand(1);
  auto* cshow = cert->add_subcommand("show", "print (or write) the signed certificate of a completed request");
  cshow->add_option("--data-dir", a->data_dir)->required();
  cshow->add_option("id", a->id, "request id (er_...)")->required();
  cshow->add_option("--out", a->out, "write to this file instead of stdout");
  cshow->callback([a, rc] { *rc = CmdCertificateShow(*a); });
  auto* cverify = cert->add_subcommand("verify", "verify a certificate offline");
  cverify->add_option("file", a->file, "the certificate")->required();
  cverify->add_option("--verifier-key", a->verifier_key, "the log's verifier key, or a file holding it")->required();
  cverify->callback([a, rc] { *rc = CmdCertificateVerify(*a); });
}

}  // namespace consentd::app
