// consentd: the consent and erasure coordinator service (docs/operations.md).
//
//   consentd --config <data-dir>/consentd.json
//
// Starts the HTTP API, the checkpointer and the service's background work on
// one data directory, which it locks (one consentd per data directory).
// SIGTERM or SIGINT: stop accepting, finish in-flight requests (and so their
// transactions), sign a last checkpoint, exit 0. SIGHUP: reload the policy
// documents (src/app/policy_reloader.h); a policy that does not load is
// logged and the current one stays.
#include <fcntl.h>
#include <signal.h>
#include <sys/file.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <atomic>
#include <chrono>
#include <optional>
#include <thread>
#include <cstdio>
#include <nlohmann/json.hpp>

#include "ledger/checkpointer.h"
#include "src/api/admin_routes.h"
#include "src/app/data_dir.h"
#include "src/app/policy_reloader.h"
#include "src/api/consent_routes.h"
#include "src/api/erasure_routes.h"
#include "src/api/ledger_routes.h"
#include "src/api/propagation_routes.h"
#include "src/api/rebuild_routes.h"
#include "src/api/webhook_routes.h"
#include "src/base/clock.h"
#include "src/http/server.h"
#include "src/ingest/webhook_ingest.h"
#include "src/obs/logger.h"
#include "src/obs/metrics.h"
#include "src/propagation/dispatch_targets.h"
#include "src/propagation/dispatcher.h"
#include "src/propagation/outbox_echo_filter.h"
#include "src/propagation/sleeper.h"
#include "src/service/config.h"
#include "src/service/runtime.h"

namespace consentd::app {
namespace {

void RegisterQueryCacheMetrics(obs::MetricsRegistry& metrics, service::QueryCache& cache) {
  metrics.AddGaugeFunction("consentd_query_cache_entries", "Entries in the consent query index",
                           [&cache] { return static_cast<double>(cache.stats().entries); });
  metrics.AddGaugeFunction("consentd_query_cache_hits", "Query-index lookups answered from memory",
                           [&cache] { return static_cast<double>(cache.stats().hits); });
  metrics.AddGaugeFunction("consentd_query_cache_misses", "Query-index lookups that read the database",
                           [&cache] { return static_cast<double>(cache.stats().misses); });
  metrics.AddGaugeFunction("consentd_query_cache_bypasses",
                           "Queries that read the database because a write was being committed",
                           [&cache] { return static_cast<double>(cache.stats().bypasses); });
  metrics.AddGaugeFunction("consentd_query_cache_flushes",
                           "Times the query index was emptied after another process wrote the database",
                           [&cache] { return static_cast<double>(cache.stats().flushes); });
}

void RegisterLedgerMetrics(obs::MetricsRegistry& metrics, ledger::Ledger& ledger,
                           const ledger::Checkpointer& checkpointer, const Clock& clock) {
  metrics.AddGaugeFunction("consentd_ledger_size", "Entries in the ledger",
                           [&ledger] { return static_cast<double>(ledger.Size()); });
  metrics.AddGaugeFunction("consentd_ledger_signed_size", "Entries covered by the latest signed checkpoint",
                           [&checkpointer] { return static_cast<double>(checkpointer.signed_size()); });
  metrics.AddGaugeFunction("consentd_ledger_last_checkpoint_age_seconds", "Age of the latest signed checkpoint",
                           [&ledger, &clock] {
                             Result<ledger::StoredCheckpoint> c = ledger.LatestCheckpoint();
                             if (!c.ok()) return -1.0;
                             return static_cast<double>(clock.NowMillis() - c->created_millis) / 1000.0;
                           });
  metrics.AddGaugeFunction("consentd_ledger_commits", "Group transactions committed",
                           [&ledger] { return static_cast<double>(ledger.stats().commits); });
  metrics.AddGaugeFunction("consentd_ledger_commit_callers", "Append calls committed (callers per commit = this / commits)",
                           [&ledger] { return static_cast<double>(ledger.stats().callers); });
  metrics.AddGaugeFunction("consentd_ledger_max_batch", "Largest number of callers in one group commit",
                           [&ledger] { return static_cast<double>(ledger.stats().max_batch); });
  for (size_t i = 0; i < ledger::Ledger::Stats{}.batch_histogram.size(); ++i) {
    std::string le = i + 1 < ledger::Ledger::Stats{}.batch_histogram.size() ? std::to_string(size_t{1} << i) : "+Inf";
    metrics.AddGaugeFunction("consentd_ledger_group_commit_batches",
                             "Group commits by callers per commit (bucket le: at most that many callers)",
                             [&ledger, i] { return static_cast<double>(ledger.stats().batch_histogram[i]); },
                             {{"le", le}});
  }
}

// Erasure figures (docs/erasure.md §2), read at scrape time.
void RegisterErasureMetrics(obs::MetricsRegistry& metrics, erasure::ErasureService& erasure) {
  for (const char* state : {"received", "verified", "rejected", "propagating", "completed", "partially_completed",
                            "cancelled"}) {
    metrics.AddGaugeFunction(
        "consentd_erasure_requests", "Erasure requests by state",
        [&erasure, s = std::string(state)] {
          Result<erasure::ErasureStats> st = erasure.Stats();
          return st.ok() ? static_cast<double>(st->by_state[s]) : -1.0;
        },
        {{"state", state}});
  }
  metrics.AddGaugeFunction("consentd_erasure_overdue", "Open erasure requests past their deadline", [&erasure] {
    Result<erasure::ErasureStats> st = erasure.Stats();
    return st.ok() ? static_cast<double>(st->overdue) : -1.0;
  });
  metrics.AddGaugeFunction("consentd_erasure_tombstones", "Tombstones (blind indexes of erased identifiers)", [&erasure] {
    Result<erasure::ErasureStats> st = erasure.Stats();
    return st.ok() ? static_cast<double>(st->tombstones) : -1.0;
  });
  metrics.AddGaugeFunction("consentd_erasure_recreation_blocked", "Re-creations blocked by tombstones since start",
                           [&erasure] {
                             Result<erasure::ErasureStats> st = erasure.Stats();
                             return st.ok() ? static_cast<double>(st->blocked) : -1.0;
                           });
}

int Run(const std::string& config_path) {
  // Signals are taken by sigwait in this thread only; block them before any
  // thread starts so that every thread inherits the mask.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  ::signal(SIGPIPE, SIG_IGN);

  Result<service::Config> config = service::Config::Load(config_path);
  if (!config.ok()) {
    std::fprintf(stderr, "consentd: %s\n", config.status().ToString().c_str());
    return 2;
  }
  obs::Logger logger(obs::ParseLogLevel(config->log_level), config->log_file);
  Result<int> lock = LockDataDir(config->data_dir);
  if (!lock.ok()) {
    logger.Error("consentd.start_failed", {{"error", lock.status().ToString()}});
    return 3;
  }
  const int lock_fd = *lock;
  Result<std::unique_ptr<service::Runtime>> rt = service::Runtime::Open(*config);
  if (!rt.ok()) {
    logger.Error("consentd.start_failed", {{"error", rt.status().ToString()}});
    return 3;
  }
  service::Runtime& runtime = **rt;
  obs::MetricsRegistry metrics;

  // Witness cosigning; declared before the checkpointer, which calls it.
  Result<std::unique_ptr<witness::CheckpointPublisher>> publisher = api::StartCheckpointPublisher(runtime, logger);
  if (!publisher.ok()) {
    logger.Error("consentd.start_failed", {{"error", publisher.status().ToString()}});
    return 3;
  }
  ledger::CheckpointerOptions co;
  co.min_interval = std::chrono::milliseconds(config->checkpoint_interval_ms);
  co.on_signed = [p = publisher->get()](const ledger::StoredCheckpoint& c) { p->OnSigned(c); };
  co.on_error = [&logger](const Status& e) { logger.Error("checkpoint.failed", {{"error", e.ToString()}}); };
  auto checkpointer = std::make_unique<ledger::Checkpointer>(runtime.ledger(), co);
  RegisterLedgerMetrics(metrics, runtime.ledger(), *checkpointer, runtime.clock());

  // The consent query index (docs/api.md "Query index"), filled in the
  // background: until then queries read the database, as they do when it
  // cannot be enabled.
  std::jthread warm_query_cache;  // joined on every way out of Run
  if (config->query_cache_entries > 0) {
    Status qs = runtime.EnableQueryCache(config->query_cache_entries);
    if (!qs.ok()) {
      logger.Warn("query_cache.disabled", {{"error", qs.ToString()}});
    } else {
      RegisterQueryCacheMetrics(metrics, *runtime.query_cache());
      // Warms at start, and again once another process's writes (which
      // empty the index) have been quiet for two seconds.
      warm_query_cache = std::jthread([&runtime, &logger](std::stop_token stop) {
        using SteadyClock = std::chrono::steady_clock;
        service::QueryCache& cache = *runtime.query_cache();
        uint64_t seen = cache.stats().flushes;
        std::optional<uint64_t> warmed;  // the flush count the last warm followed
        SteadyClock::time_point changed = SteadyClock::now() - std::chrono::seconds(2);
        while (!stop.stop_requested()) {
          const uint64_t flushes = cache.stats().flushes;
          if (flushes != seen) {
            seen = flushes;
            changed = SteadyClock::now();
          }
          if (warmed != seen && SteadyClock::now() - changed >= std::chrono::seconds(2)) {
            warmed = seen;
            const auto start = SteadyClock::now();
            Status ws = runtime.consents().WarmQueryCache([&stop] { return stop.stop_requested(); });
            const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(SteadyClock::now() - start).count();
            if (!ws.ok()) {
              logger.Warn("query_cache.warm_failed", {{"error", ws.ToString()}});
            } else {
              logger.Info("query_cache.warm", {{"entries", cache.stats().entries}, {"ms", ms}});
            }
          }
          std::this_thread::sleep_for(std::chrono::milliseconds(200));
        }
      });
    }
  }

  http::ServerOptions so;
  so.host = config->listen_host;
  so.port = config->listen_port;
  so.engine = config->http_server == "httplib" ? http::Engine::kHttplib : http::Engine::kAsio;
  so.threads = config->http_threads;
  so.io_threads = config->http_io_threads;
  so.max_body_bytes = config->max_body_bytes;
  so.tls_cert_file = config->tls_cert;
  so.tls_key_file = config->tls_key;
  http::HttpServer server(
      so, [&runtime](std::string_view token) { return runtime.tokens().Authenticate(token); }, metrics, logger);
  std::atomic<bool> ready{false};
  api::RegisterAdminRoutes(server, runtime, metrics, ready);
  api::RegisterConsentRoutes(server, runtime);
  api::RegisterRebuildRoutes(server, runtime);
  api::RegisterErasureRoutes(server, runtime.erasure(), runtime.signer(), runtime.clock());
  RegisterErasureMetrics(metrics, runtime.erasure());
  // Propagation (docs/propagation.md): one HTTP transport shared by every
  // adapter, one dispatcher lane per policy system.
  propagation::RealSleeper propagation_sleeper(runtime.clock());
  auto propagation_transport = std::make_shared<adapters::HttplibTransport>();
  propagation::DispatcherOptions dopts;
  dopts.max_attempts = static_cast<int32_t>(config->propagation.max_attempts);
  dopts.max_age_ms = config->propagation.max_age_ms;
  dopts.backoff = {config->propagation.backoff_base_ms, config->propagation.backoff_cap_ms};
  dopts.confirm_backoff = {config->propagation.confirm_interval_ms, 5 * 60 * 1000};
  dopts.poll_interval_ms = config->propagation.poll_interval_ms;
  propagation::Dispatcher dispatcher(
      runtime.outbox(),
      [&runtime](const domain::Sid& sid) {
        Result<std::vector<domain::NormalizedIdentifier>> ids = runtime.subjects().IdentifiersOf(sid);
        // Not a subject: an erasure re-sent to a system that tried to
        // re-create an erased person carries the identifiers it sent.
        if (!ids.ok() && ids.status().code() == StatusCode::kNotFound) return runtime.erasure().ResendIdentifiers(sid);
        return ids;
      },
      [&runtime] { return runtime.policy(); }, dopts, runtime.clock(), propagation_sleeper, nullptr, &metrics, &logger);
  for (propagation::DispatchTarget& t :
       propagation::BuildDispatchTargets(*runtime.policy(), config->key_dir, propagation_transport, runtime.clock(),
                                         propagation_sleeper)) {
    dispatcher.AddTarget(std::move(t));
  }
  // A system id an adapter learns is linked to the subject with the
  // delivery's outcome, so later deliveries skip the lookup.
  dispatcher.SetLearner([&runtime](const domain::Sid& sid, const domain::Identifier& learned,
                                   std::vector<ledger::NewEntry> entries, ledger::WriteHook hook) {
    return runtime.subjects().LinkLearnedAndWrite(sid, learned, std::move(entries), std::move(hook));
  });
  PolicyReloader reloader(runtime, dispatcher, propagation_transport, propagation_sleeper, &logger);
  runtime.outbox().SetEnqueueObserver([&dispatcher] { dispatcher.Notify(); });
  api::RegisterPropagationRoutes(server, runtime.outbox(), &dispatcher, runtime.clock());
  propagation::OutboxEchoFilter echo_filter(runtime.outbox());  // webhook reports of what we just told a system
  // Webhooks (docs/webhooks.md): erasure requests go to the erasure
  // service's intake; echoes of what consentd just delivered are dropped by
  // the outbox's echo filter (docs/propagation.md).
  ingest::IngestOptions io;
  io.klaviyo.signature_header = config->klaviyo_signature_header;
  io.klaviyo.timestamp_header = config->klaviyo_timestamp_header;
  io.klaviyo.webhook_id_header = config->klaviyo_webhook_id_header;
  io.klaviyo.encoding = config->klaviyo_signature_encoding;
  io.klaviyo.window_ms = config->webhook_signature_window_ms;
  io.signature_window_ms = config->webhook_signature_window_ms;
  io.secret_rotation_window_ms = config->webhook_secret_rotation_window_ms;
  std::vector<std::string> ingest_warnings;
  Result<std::unique_ptr<ingest::WebhookIngest>> webhooks =
      ingest::WebhookIngest::Open(runtime, io, /*erasure=*/&runtime.erasure(), /*echo=*/&echo_filter, &ingest_warnings);
  if (!webhooks.ok()) {
    logger.Error("consentd.start_failed", {{"error", webhooks.status().ToString()}});
    return 3;
  }
  for (const std::string& w : ingest_warnings) logger.Warn("webhooks.credential", {{"problem", w}});
  api::RegisterWebhookRoutes(server, **webhooks, config->max_body_bytes, !so.tls_cert_file.empty());
  api::RegisterLedgerRoutes(server, runtime, **publisher);

  Status s = server.Start();
  if (!s.ok()) {
    logger.Error("consentd.start_failed", {{"error", s.ToString()}});
    return 3;
  }
  if (config->propagation.enabled) {
    s = dispatcher.Start();  // in_flight rows of a previous run go back to pending
    if (!s.ok()) {
      logger.Error("consentd.start_failed", {{"error", s.ToString()}});
      return 3;
    }
  }
  runtime.erasure().Start();  // completes, shreds and sweeps deadlines
  ready = true;
  logger.Info("consentd.listening", {{"host", so.host},
                                     {"port", server.port()},
                                     {"tls", !so.tls_cert_file.empty()},
                                     {"origin", runtime.ledger().origin()},
                                     {"ledger_size", runtime.ledger().Size()}});

  int sig = 0;
  for (;;) {
    sigwait(&signals, &sig);
    if (sig != SIGHUP) break;
    logger.Info("consentd.reloading_policy", nlohmann::json::object());
    (void)reloader.Reload();  // logs what it did, or why the policy stays
  }
  logger.Info("consentd.stopping", {{"signal", sig == SIGTERM ? "SIGTERM" : "SIGINT"}});
  ready = false;
  server.Stop();          // no new requests; in-flight ones (and their commits) finish
  runtime.erasure().Stop();
  dispatcher.Stop();      // attempts in progress finish and record their outcomes
  checkpointer.reset();   // signs whatever the last requests appended
  warm_query_cache.request_stop();
  if (warm_query_cache.joinable()) warm_query_cache.join();
  logger.Info("consentd.stopped", {{"ledger_size", runtime.ledger().Size()}});
  ::close(lock_fd);
  return 0;
}

}  // namespace
}  // namespace consentd::app

int main(int argc, char** argv) {
  CLI::App app{"consentd: consent and erasure coordinator"};
  std::string config;
  app.add_option("--config", config, "configuration file (<data-dir>/consentd.json)")->required();
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int code = app.exit(e);
    return code == 0 ? 0 : 2;
  }
  return consentd::app::Run(config);
}
