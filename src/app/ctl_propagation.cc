#include "src/app/ctl_propagation.h"

#include <cstdio>
#include <iostream>
#include <memory>
#include <string>

#include "src/app/data_dir.h"
#include "src/base/time_format.h"
#include "src/propagation/outbox_json.h"
#include "src/service/config.h"
#include "src/service/runtime.h"

namespace consentd::app {
namespace {

struct Options {
  std::string data_dir;
  std::string system;
  std::string state = "dead";
  int64_t id = 0;
  size_t limit = 100;
  bool all = false;
  bool json = false;
};

int Fail(const Status& s) {
  std::cerr << "consentctl: " << s.ToString() << "\n";
  return s.code() == StatusCode::kInvalidArgument ? 2 : 3;
}

Result<std::unique_ptr<service::Runtime>> Open(const std::string& data_dir) {
  Result<DataDir> d = DataDir::Load(data_dir);
  if (!d.ok()) return d.status();
  Result<service::Config> config = service::Config::Load(d->config_path());
  if (!config.ok()) return config.status();
  service::RuntimeOptions o;
  o.require_signer = false;
  return service::Runtime::Open(*config, o);
}

std::string Pad(std::string s, size_t n) {
  if (s.size() < n) s.append(n - s.size(), ' ');
  return s;
}

int DlqList(const Options& o) {
  propagation::ListFilter f;
  if (o.state != "all") {
    f.state = propagation::ParseRowState(o.state);
    if (!f.state) return Fail(Status::InvalidArgument("--state: pending, in_flight, accepted, done, dead, discarded or all"));
  }
  if (!o.system.empty() && !propagation::IsSystemId(o.system)) return Fail(Status::InvalidArgument("--system: not a system id"));
  f.system = o.system;
  f.limit = o.limit;
  Result<std::unique_ptr<service::Runtime>> rt = Open(o.data_dir);
  if (!rt.ok()) return Fail(rt.status());
  Result<std::vector<propagation::OutboxRow>> rows = (*rt)->outbox().List(f);
  if (!rows.ok()) return Fail(rows.status());
  if (o.json) {
    for (const propagation::OutboxRow& r : *rows) std::cout << propagation::RowJson(r).dump() << "\n";
    return 0;
  }
  std::cout << Pad("ID", 10) << Pad("SYSTEM", 20) << Pad("STATE", 11) << Pad("OP", 12) << Pad("PURPOSE", 20)
            << Pad("ATTEMPTS", 9) << Pad("LAST", 26) << "UPDATED\n";
  for (const propagation::OutboxRow& r : *rows) {
    std::string what = r.kind == service::ChangeKind::kConsent
                           ? r.purpose + (r.decision == domain::Decision::kGranted ? "+" : "-")
                           : "-";
    std::string last = r.last_code.empty() ? "-" : r.last_code;
    if (r.last_status) last += " (" + std::to_string(r.last_status) + ")";
    std::cout << Pad(std::to_string(r.id), 10) << Pad(r.system, 20) << Pad(std::string(propagation::RowStateName(r.state)), 11)
              << Pad(std::string(propagation::OperationName(r.kind)), 12) << Pad(what, 20)
              << Pad(std::to_string(r.attempts), 9) << Pad(last, 26) << FormatTimestampMillis(r.updated_ms) << "\n";
  }
  std::cerr << rows->size() << " row(s)\n";
  return 0;
}

int DlqShow(const Options& o) {
  Result<std::unique_ptr<service::Runtime>> rt = Open(o.data_dir);
  if (!rt.ok()) return Fail(rt.status());
  Result<propagation::OutboxRow> row = (*rt)->outbox().Get(o.id);
  if (!row.ok()) return Fail(row.status());
  std::cout << propagation::RowJson(*row).dump(2) << "\n";
  return 0;
}

int DlqReplay(const Options& o) {
  if (o.all == (o.id != 0)) return Fail(Status::InvalidArgument("give exactly one of --id N and --all"));
  if (!o.system.empty() && !o.all) return Fail(Status::InvalidArgument("--system goes with --all"));
  if (!o.system.empty() && !propagation::IsSystemId(o.system)) return Fail(Status::InvalidArgument("--system: not a system id"));
  Result<std::unique_ptr<service::Runtime>> rt = Open(o.data_dir);
  if (!rt.ok()) return Fail(rt.status());
  if (o.all) {
    Result<int64_t> n = (*rt)->outbox().ReplayDead(o.system);
    if (!n.ok()) return Fail(n.status());
    std::cout << "replayed " << *n << " dead row(s)\n";
    return 0;
  }
  Status s = (*rt)->outbox().Replay(o.id);
  if (!s.ok()) return Fail(s);
  std::cout << "replayed row " << o.id << "\n";
  return 0;
}

int DlqDiscard(const Options& o) {
  Result<std::unique_ptr<service::Runtime>> rt = Open(o.data_dir);
  if (!rt.ok()) return Fail(rt.status());
  Result<service::DeliveryOutcome> out = (*rt)->outbox().Discard(o.id);
  if (!out.ok()) return Fail(out.status());
  std::cout << "discarded row " << o.id << " (ledger entry " << out->outcome_seq << ")\n";
  return 0;
}

int SystemList(const Options& o) {
  Result<std::unique_ptr<service::Runtime>> rt = Open(o.data_dir);
  if (!rt.ok()) return Fail(rt.status());
  Result<std::vector<propagation::SystemStatus>> all = (*rt)->outbox().Systems();
  if (!all.ok()) return Fail(all.status());
  const int64_t now = (*rt)->clock().NowMillis();
  if (o.json) {
    for (const propagation::SystemStatus& s : *all) std::cout << propagation::SystemStatusJson(s, now).dump() << "\n";
    return 0;
  }
  std::cout << Pad("SYSTEM", 24) << Pad("STATUS", 9) << Pad("QUEUE", 9) << Pad("OLDEST(s)", 11) << "DEAD\n";
  for (const propagation::SystemStatus& s : *all) {
    char age[32];
    std::snprintf(age, sizeof(age), "%.1f",
                  s.oldest_pending_created_ms ? static_cast<double>(now - s.oldest_pending_created_ms) / 1000.0 : 0.0);
    std::cout << Pad(s.system, 24) << Pad(s.paused ? "paused" : "active", 9) << Pad(std::to_string(s.queue_depth), 9)
              << Pad(age, 11) << s.dead << "\n";
  }
  return 0;
}

int SystemPause(const Options& o, bool pause) {
  if (!propagation::IsSystemId(o.system)) return Fail(Status::InvalidArgument("--system: not a system id"));
  Result<std::unique_ptr<service::Runtime>> rt = Open(o.data_dir);
  if (!rt.ok()) return Fail(rt.status());
  Status s = (*rt)->outbox().SetPaused(o.system, pause);
  if (!s.ok()) return Fail(s);
  std::cout << o.system << (pause ? " paused\n" : " resumed\n");
  return 0;
}

}  // namespace

void RegisterPropagationCommands(CLI::App& app, int* rc) {
  auto o = std::make_shared<Options>();
  auto* dlq = app.add_subcommand("dlq", "list, inspect, replay and discard outbox rows (dead letters)");
  dlq->require_subcommand(1);
  auto* list = dlq->add_subcommand("list", "list outbox rows (default: the dead letters)");
  list->add_option("--data-dir", o->data_dir)->required();
  list->add_option("--system", o->system, "only this system");
  list->add_option("--state", o->state, "pending, in_flight, accepted, done, dead (default), discarded or all");
  list->add_option("--limit", o->limit, "at most this many rows")->check(CLI::Range(1, 100000));
  list->add_flag("--json", o->json, "one JSON object per line");
  list->callback([o, rc] { *rc = DlqList(*o); });
  auto* show = dlq->add_subcommand("show", "print one outbox row as JSON");
  show->add_option("--data-dir", o->data_dir)->required();
  show->add_option("--id", o->id, "row id")->required()->check(CLI::Range(int64_t{1}, INT64_MAX));
  show->callback([o, rc] { *rc = DlqShow(*o); });
  auto* replay = dlq->add_subcommand("replay", "send dead rows again (attempts reset)");
  replay->add_option("--data-dir", o->data_dir)->required();
  replay->add_option("--id", o->id, "one row")->check(CLI::Range(int64_t{1}, INT64_MAX));
  replay->add_flag("--all", o->all, "every dead row (of --system, when given)");
  replay->add_option("--system", o->system, "with --all: only this system");
  replay->callback([o, rc] { *rc = DlqReplay(*o); });
  auto* discard = dlq->add_subcommand("discard", "give up on a dead row (records a discarded outcome)");
  discard->add_option("--data-dir", o->data_dir)->required();
  discard->add_option("--id", o->id, "row id")->required()->check(CLI::Range(int64_t{1}, INT64_MAX));
  discard->callback([o, rc] { *rc = DlqDiscard(*o); });

  auto* system = app.add_subcommand("system", "downstream systems: status, pause and resume deliveries");
  system->require_subcommand(1);
  auto* slist = system->add_subcommand("list", "queue depth, oldest pending age, dead letters, paused");
  slist->add_option("--data-dir", o->data_dir)->required();
  slist->add_flag("--json", o->json, "one JSON object per line");
  slist->callback([o, rc] { *rc = SystemList(*o); });
  for (bool pause : {true, false}) {
    auto* cmd = system->add_subcommand(pause ? "pause" : "resume",
                                       pause ? "stop deliveries to a system (rows keep accumulating)" : "resume deliveries");
    cmd->add_option("--data-dir", o->data_dir)->required();
    cmd->add_option("--system", o->system, "the policy system id")->required();
    cmd->callback([o, rc, pause] { *rc = SystemPause(*o, pause); });
  }
}

}  // namespace consentd::app
