#include "src/propagation/dispatcher.h"

#include <algorithm>
#include <cctype>
#include <chrono>
#include <nlohmann/json.hpp>

#include "policies/purpose.h"

namespace consentd::propagation {

using adapters::Outcome;
using adapters::OutcomeClass;
using service::DeliveryResult;

struct Dispatcher::Lane {
  DispatchTarget target;        // replaced only while the lane is stopped; guarded by mu for Lanes()
  std::mutex mu;
  std::condition_variable cv;         // workers
  std::condition_variable record_cv;  // the recorder
  std::deque<OutboxRow> queue;  // claimed, not started; guarded by mu
  std::set<int64_t> busy;       // queued, being attempted or being recorded; guarded by mu
  std::vector<Finished> finished;  // attempted, not recorded yet; guarded by mu
  bool stop = false;            // workers: leave; guarded by mu
  bool recorder_stop = false;   // recorder: leave once `finished` is empty; guarded by mu
  bool running = false;         // workers started; guarded by mu
  bool removed = false;         // not in the policy any more (SetTargets); guarded by mu
  bool scanning = false;        // a worker is in Fill or the pause check; guarded by mu
  bool dirty = true;            // something changed: scan before waiting; guarded by mu
  bool paused = false;          // guarded by mu
  int64_t next_scan_ms = 0;     // guarded by mu
  int64_t next_pause_check_ms = 0;  // guarded by mu
  std::vector<std::thread> workers;
  std::thread recorder;
  std::atomic<bool> available{false};  // for the metric

  obs::Histogram* lag = nullptr;
  obs::Counter* rate_limit_waits = nullptr;
  // Retryable failures in a row, across rows: a system that is down is
  // probed with backoff instead of every row cycling at its own pace.
  std::atomic<int32_t> consecutive_failures{0};
};

namespace {

// Lag buckets in seconds: commit to the system's 2xx, 5 ms to a day.
std::vector<double> LagBuckets() {
  return {0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 1800, 3600, 86400};
}

std::string Lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

// The identifier type of a system's own customer ids, and the qualifier of
// this instance as the vault normalizes it (shop domain and audience
// lowercased; the WooCommerce site is its base URL, which the normalizer
// reduces to host and path); nullopt for webhooks.
std::optional<domain::IdentifierType> OwnIdType(const policies::System& sys, std::string* qualifier) {
  qualifier->clear();
  switch (sys.kind) {
    case policies::SystemKind::kShopify:
      if (const auto* o = std::get_if<policies::ShopifyOptions>(&sys.options)) *qualifier = Lower(o->shop_domain);
      return domain::IdentifierType::kShopifyCustomer;
    case policies::SystemKind::kWooCommerce:
      *qualifier = sys.base_url;
      return domain::IdentifierType::kWooCommerceCustomer;
    case policies::SystemKind::kHubSpot: return domain::IdentifierType::kHubSpotContact;
    case policies::SystemKind::kSalesforce: {
      const auto* o = std::get_if<policies::SalesforceOptions>(&sys.options);
      if (o && o->object == "Lead") return domain::IdentifierType::kSalesforceLead;
      return domain::IdentifierType::kSalesforceContact;
    }
    case policies::SystemKind::kKlaviyo: return domain::IdentifierType::kKlaviyoProfile;
    case policies::SystemKind::kMailchimp:
      if (const auto* o = std::get_if<policies::MailchimpOptions>(&sys.options)) *qualifier = Lower(o->list_id);
      return domain::IdentifierType::kMailchimpMember;
    case policies::SystemKind::kWebhook: return std::nullopt;
  }
  return std::nullopt;
}

Outcome AuthFailed(const Outcome& last) {
  Outcome o;
  o.cls = OutcomeClass::kPermanent;
  o.http_status = last.http_status;
  o.code = "auth_failed";
  return o;
}

}  // namespace

Dispatcher::Dispatcher(Outbox& outbox, CustomerSource customers, PolicyFn policy, DispatcherOptions options,
                       const Clock& clock, Sleeper& sleeper, UniformSource uniform, obs::MetricsRegistry* metrics,
                       const obs::Logger* logger)
    : outbox_(outbox),
      customers_(std::move(customers)),
      policy_(std::move(policy)),
      options_(options),
      clock_(clock),
      sleeper_(sleeper),
      uniform_(uniform ? std::move(uniform) : RandomUniform()),
      metrics_(metrics),
      logger_(logger) {}

Dispatcher::~Dispatcher() { Stop(); }

void Dispatcher::AddTarget(DispatchTarget target) {
  auto lane = std::make_unique<Lane>();
  lane->target = std::move(target);
  lane->available.store(lane->target.adapter != nullptr);
  const std::string id = lane->target.system.id;
  RegisterMetrics(*lane);
  std::lock_guard<std::mutex> lock(lanes_mu_);
  lanes_[id] = std::move(lane);
}

size_t Dispatcher::ClaimBatch(const Lane& lane) const {
  if (options_.claim_batch > 0) return options_.claim_batch;
  return std::max<size_t>(64, 8 * static_cast<size_t>(std::max(lane.target.system.concurrency, 1)));
}

std::vector<Dispatcher::Lane*> Dispatcher::AllLanes() const {
  std::lock_guard<std::mutex> lock(lanes_mu_);
  std::vector<Lane*> out;
  for (const auto& [id, lane] : lanes_) out.push_back(lane.get());
  return out;
}

Status Dispatcher::Start() {
  std::lock_guard<std::mutex> control(control_mu_);
  if (started_.exchange(true)) return Status::FailedPrecondition("dispatcher already started");
  Result<int64_t> reset = outbox_.ResetInFlight();
  if (!reset.ok()) return reset.status();
  if (logger_ && *reset > 0) logger_->Info("propagation.in_flight_reset", {{"rows", *reset}});
  for (Lane* lane : AllLanes()) StartLane(*lane);
  return Status::Ok();
}

void Dispatcher::StartLane(Lane& lane) {
  const std::string& id = lane.target.system.id;
  if (!lane.target.adapter) {
    if (logger_) {
      logger_->Warn("propagation.system_unavailable", {{"system", id}, {"reason", lane.target.unavailable_reason}});
    }
    return;
  }
  {
    std::lock_guard<std::mutex> lock(lane.mu);
    lane.stop = false;
    lane.recorder_stop = false;
    lane.running = true;
    lane.dirty = true;
  }
  const int n = std::max(lane.target.system.concurrency, 1);
  for (int i = 0; i < n; ++i) lane.workers.emplace_back([this, l = &lane] { Work(*l); });
  lane.recorder = std::thread([this, l = &lane] { RecordLoop(*l); });
}

void Dispatcher::StopLane(Lane& lane) {
  {
    std::lock_guard<std::mutex> lock(lane.mu);
    if (!lane.running) return;
    lane.stop = true;
    lane.cv.notify_all();
  }
  for (std::thread& t : lane.workers) t.join();
  lane.workers.clear();
  {
    // Every attempt has finished: the recorder writes what is left, then leaves.
    std::lock_guard<std::mutex> lock(lane.mu);
    lane.recorder_stop = true;
    lane.record_cv.notify_all();
  }
  if (lane.recorder.joinable()) lane.recorder.join();
  std::lock_guard<std::mutex> lock(lane.mu);
  lane.running = false;
}

void Dispatcher::Stop() {
  if (!started_.load() || stopping_.exchange(true)) return;
  sleeper_.Cancel();
  std::lock_guard<std::mutex> control(control_mu_);
  for (Lane* lane : AllLanes()) StopLane(*lane);
}

Dispatcher::TargetChanges Dispatcher::SetTargets(std::vector<DispatchTarget> targets) {
  TargetChanges changes;
  std::lock_guard<std::mutex> control(control_mu_);
  const bool run = started_.load() && !stopping_.load();
  std::map<std::string, DispatchTarget> given;
  for (DispatchTarget& t : targets) {
    std::string id = t.system.id;
    given.emplace(std::move(id), std::move(t));
  }
  // Removed systems: stop their lanes; their rows stay where they are.
  for (Lane* lane : AllLanes()) {
    const std::string id = lane->target.system.id;
    if (given.count(id)) continue;
    bool was_removed;
    {
      std::lock_guard<std::mutex> lock(lane->mu);
      was_removed = lane->removed;
    }
    if (was_removed) continue;
    StopLane(*lane);
    ReleaseQueued(*lane);
    {
      std::lock_guard<std::mutex> lock(lane->mu);
      lane->removed = true;
      lane->target.adapter = nullptr;
      lane->target.unavailable_reason = "not in the policy";
    }
    lane->available.store(false);
    changes.stopped.push_back(id);
    if (logger_) logger_->Info("propagation.lane_stopped", {{"system", id}, {"reason", "not in the policy"}});
  }
  for (auto& [id, target] : given) {
    Lane* existing = nullptr;
    {
      std::lock_guard<std::mutex> lock(lanes_mu_);
      auto it = lanes_.find(id);
      if (it != lanes_.end()) existing = it->second.get();
    }
    if (existing != nullptr) {
      Lane& lane = *existing;
      bool replace;
      {
        std::lock_guard<std::mutex> lock(lane.mu);
        replace = lane.removed || !lane.target.adapter;
      }
      if (!replace) continue;  // a running lane keeps its adapter and bucket
      StopLane(lane);          // not running (no adapter), but be sure
      {
        std::lock_guard<std::mutex> lock(lane.mu);
        lane.removed = false;
        lane.target = std::move(target);
      }
      lane.available.store(lane.target.adapter != nullptr);
      if (lane.target.bucket && lane.rate_limit_waits) lane.target.bucket->SetWaitCounter(lane.rate_limit_waits);
      if (run) StartLane(lane);
      if (lane.target.adapter) changes.started.push_back(id);
      continue;
    }
    auto lane = std::make_unique<Lane>();
    lane->target = std::move(target);
    lane->available.store(lane->target.adapter != nullptr);
    RegisterMetrics(*lane);
    Lane& ref = *lane;
    {
      std::lock_guard<std::mutex> lock(lanes_mu_);
      lanes_[id] = std::move(lane);
    }
    if (run) StartLane(ref);
    if (ref.target.adapter) changes.started.push_back(id);
    if (logger_) logger_->Info("propagation.lane_added", {{"system", id}, {"available", ref.target.adapter != nullptr}});
  }
  return changes;
}

void Dispatcher::Notify() {
  const int64_t now = clock_.NowMillis();
  // Already scanning often (bulk imports call this per event): nothing to add.
  if (now + options_.hot_window_ms / 2 < hot_until_ms_.load()) return;
  hot_until_ms_.store(now + options_.hot_window_ms);
  for (Lane* lane : AllLanes()) {
    std::lock_guard<std::mutex> lock(lane->mu);
    lane->dirty = true;
    lane->cv.notify_one();
  }
}

std::vector<LaneInfo> Dispatcher::Lanes() const {
  std::vector<LaneInfo> out;
  std::lock_guard<std::mutex> lanes_lock(lanes_mu_);
  for (const auto& [id, lane] : lanes_) {
    LaneInfo info;
    info.system = id;
    {
      std::lock_guard<std::mutex> lock(lane->mu);
      info.available = lane->target.adapter != nullptr;
      info.unavailable_reason = lane->target.unavailable_reason;
      info.in_memory = lane->busy.size();
    }
    out.push_back(std::move(info));
  }
  return out;
}

void Dispatcher::Work(Lane& lane) {
  const std::string& system = lane.target.system.id;
  std::unique_lock<std::mutex> lock(lane.mu);
  while (!lane.stop) {
    const int64_t now = clock_.NowMillis();
    if (!lane.scanning && now >= lane.next_pause_check_ms) {
      // Pauses written by another process (consentctl) take effect within
      // a poll interval, even while the queue is full.
      lane.scanning = true;
      lock.unlock();
      Result<bool> paused = outbox_.IsPaused(system);
      lock.lock();
      lane.scanning = false;
      lane.next_pause_check_ms = now + options_.poll_interval_ms;
      if (paused.ok()) {
        if (lane.paused && !*paused) lane.dirty = true;
        lane.paused = *paused;
        if (lane.paused && !lane.queue.empty()) {
          lock.unlock();
          ReleaseQueued(lane);
          lock.lock();
        }
      }
      lane.cv.notify_all();
      continue;
    }
    const bool hot = now < hot_until_ms_.load();
    // Claim when the queue runs dry, or early when at least half a batch
    // can be claimed (one transaction for many rows, workers never idle).
    const bool room = lane.queue.empty() || lane.busy.size() + ClaimBatch(lane) / 2 <= ClaimBatch(lane);
    if (!lane.paused && !lane.scanning && room &&
        (lane.dirty || now >= lane.next_scan_ms || (hot && lane.queue.empty()))) {
      lane.scanning = true;
      lane.dirty = false;
      lock.unlock();
      Fill(lane);
      lock.lock();
      lane.scanning = false;
      lane.cv.notify_all();
      if (lane.queue.empty() && !lane.dirty && hot) {
        // Rows announced by Notify() may not have committed yet.
        lane.cv.wait_for(lock, std::chrono::milliseconds(options_.hot_poll_interval_ms));
      }
      continue;
    }
    if (!lane.paused && !lane.queue.empty()) {
      OutboxRow row = std::move(lane.queue.front());
      lane.queue.pop_front();
      lock.unlock();
      Finished f = Attempt(lane, std::move(row));
      lock.lock();
      // Busy until recorded: the recorder frees the row (and so the
      // subject's next row) once its step is durable.
      lane.finished.push_back(std::move(f));
      lane.record_cv.notify_one();
      continue;
    }
    int64_t until = lane.paused ? lane.next_pause_check_ms : std::min(lane.next_scan_ms, lane.next_pause_check_ms);
    const int64_t wait = std::clamp<int64_t>(until - now, 1, options_.poll_interval_ms);
    lane.cv.wait_for(lock, std::chrono::milliseconds(wait));
  }
}

void Dispatcher::Fill(Lane& lane) {
  const std::string& system = lane.target.system.id;
  std::set<int64_t> busy;
  {
    std::lock_guard<std::mutex> lock(lane.mu);
    busy = lane.busy;
  }
  const size_t batch = ClaimBatch(lane);
  const int64_t now = clock_.NowMillis();
  std::vector<OutboxRow> ready;
  if (busy.size() < batch) {
    Result<std::vector<OutboxRow>> rows = outbox_.Eligible(system, now, batch - busy.size(), busy);
    if (!rows.ok()) {
      if (logger_) logger_->Error("propagation.scan_failed", {{"system", system}, {"error", rows.status().ToString()}});
    } else {
      std::vector<int64_t> pending;
      for (const OutboxRow& r : *rows) {
        if (r.state == RowState::kPending) pending.push_back(r.id);
      }
      Result<std::vector<int64_t>> claimed = outbox_.Claim(pending);
      if (!claimed.ok() && logger_) {
        logger_->Error("propagation.claim_failed", {{"system", system}, {"error", claimed.status().ToString()}});
      }
      std::set<int64_t> got;
      if (claimed.ok()) got.insert(claimed->begin(), claimed->end());
      for (OutboxRow& r : *rows) {
        if (r.state == RowState::kPending) {
          if (!got.count(r.id)) continue;
          r.state = RowState::kInFlight;
        }
        ready.push_back(std::move(r));
      }
    }
  }
  int64_t next = now + (now < hot_until_ms_.load() ? options_.hot_poll_interval_ms : options_.poll_interval_ms);
  if (ready.empty()) {
    Result<std::optional<int64_t>> due = outbox_.NextDue(system);
    if (due.ok() && *due && **due > now) next = std::min(next, **due);
  }
  std::lock_guard<std::mutex> lock(lane.mu);
  for (OutboxRow& r : ready) {
    lane.busy.insert(r.id);
    lane.queue.push_back(std::move(r));
  }
  lane.next_scan_ms = next;
}

void Dispatcher::ReleaseQueued(Lane& lane) {
  std::deque<OutboxRow> rows;
  {
    std::lock_guard<std::mutex> lock(lane.mu);
    rows.swap(lane.queue);
  }
  for (const OutboxRow& r : rows) {
    if (r.state == RowState::kInFlight) {
      AttemptNote note{r.last_status, r.last_code, r.reference};
      Status s = outbox_.Reschedule(r, RowState::kInFlight, RowState::kPending, r.next_attempt_ms, note);
      if (!s.ok() && logger_) logger_->Error("propagation.release_failed", {{"system", r.system}, {"outbox_id", r.id}});
    }
  }
  std::lock_guard<std::mutex> lock(lane.mu);
  for (const OutboxRow& r : rows) lane.busy.erase(r.id);
}

Result<size_t> Dispatcher::RunOnce(const std::string& system) {
  if (started_.load()) return Status::FailedPrecondition("RunOnce while the dispatcher runs");
  Lane* found = nullptr;
  {
    std::lock_guard<std::mutex> lanes_lock(lanes_mu_);
    auto it = lanes_.find(system);
    if (it != lanes_.end()) found = it->second.get();
  }
  if (found == nullptr) return Status::NotFound("no dispatch target " + system);
  Lane& lane = *found;
  if (!lane.target.adapter) return size_t{0};
  size_t attempts = 0;
  std::vector<Finished> done;
  for (int round = 0; round < 100000; ++round) {
    Result<std::vector<OutboxRow>> rows = outbox_.Eligible(system, clock_.NowMillis(), ClaimBatch(lane), {});
    if (!rows.ok()) return rows.status();
    if (rows->empty()) break;
    std::vector<int64_t> pending;
    for (const OutboxRow& r : *rows) {
      if (r.state == RowState::kPending) pending.push_back(r.id);
    }
    Result<std::vector<int64_t>> claimed = outbox_.Claim(pending);
    if (!claimed.ok()) return claimed.status();
    std::set<int64_t> got(claimed->begin(), claimed->end());
    for (OutboxRow& r : *rows) {
      if (r.state == RowState::kPending) {
        if (!got.count(r.id)) continue;
        r.state = RowState::kInFlight;
      }
      done.push_back(Attempt(lane, std::move(r)));
      ++attempts;
    }
    Record(lane, done);
    done.clear();
  }
  return attempts;
}

adapters::Request Dispatcher::BuildRequest(const Lane& lane, const OutboxRow& row,
                                           const std::vector<domain::NormalizedIdentifier>& ids) const {
  adapters::Request req;
  req.op = row.kind == service::ChangeKind::kErasure ? adapters::Operation::kErase : adapters::Operation::kSetConsent;
  req.purpose = row.purpose;
  req.granted = row.decision == domain::Decision::kGranted;
  req.occurred_at_ms = row.occurred_at_ms;
  req.idempotency_key = row.idempotency_key;
  if (row.kind == service::ChangeKind::kConsent) {
    std::shared_ptr<const policies::PolicySet> policy = policy_ ? policy_() : nullptr;
    const policies::Purpose* p = policy ? policy->FindPurpose(row.purpose) : nullptr;
    if (p != nullptr) req.channel = std::string(policies::ChannelName(p->channel));
  }
  // The system's own id for the customer: the identifier of its kind (and
  // of this instance, for kinds qualified by shop or audience).
  std::string qualifier;
  const std::optional<domain::IdentifierType> own = OwnIdType(lane.target.system, &qualifier);
  // A WooCommerce id of any site (its base URL is not normalized here).
  if (lane.target.system.kind == policies::SystemKind::kWooCommerce) qualifier.clear();
  for (const domain::NormalizedIdentifier& id : ids) {
    const domain::IdentifierType t = id.kind.type();
    if (t == domain::IdentifierType::kEmail && req.customer.email.empty()) {
      req.customer.email = id.value;
    } else if (t == domain::IdentifierType::kPhone && req.customer.phone.empty()) {
      req.customer.phone = id.value;
    } else if (own && t == *own && req.customer.system_id.empty() &&
               (qualifier.empty() || id.qualifier.empty() || id.qualifier == qualifier)) {
      req.customer.system_id = id.value;
    }
  }
  return req;
}

Dispatcher::Finished Dispatcher::Attempt(Lane& lane, OutboxRow row) {
  adapters::Adapter& adapter = *lane.target.adapter;
  const RowState from = row.state;  // in_flight (claimed) or accepted (a confirm poll)
  const bool confirming = from == RowState::kAccepted;
  const RowState back = confirming ? RowState::kAccepted : RowState::kPending;
  int64_t now = clock_.NowMillis();

  Finished f;
  auto finish = [&](DeliveryResult result, const AttemptNote& note) {
    f.step.row = row;
    f.step.from = from;
    f.step.to = result == DeliveryResult::kFailed ? RowState::kDead : RowState::kDone;
    f.step.result = result;
    f.step.note = note;
    return std::move(f);
  };
  auto reschedule = [&](RowState to, int64_t next_ms, const AttemptNote& note) {
    f.step.row = row;
    f.step.from = from;
    f.step.to = to;
    f.step.next_attempt_ms = next_ms;
    f.step.note = note;
    return std::move(f);
  };

  if (now - row.created_ms > options_.max_age_ms) {
    AttemptNote note{row.last_status, row.last_code.empty() ? "max_age" : row.last_code, row.reference};
    return finish(DeliveryResult::kFailed, note);
  }
  Result<std::vector<domain::NormalizedIdentifier>> ids = customers_(row.sid);
  if (!ids.ok()) {
    if (ids.status().code() == StatusCode::kNotFound) {
      // Shredded: nothing personal is left to deliver with, by design.
      return finish(DeliveryResult::kFailed, AttemptNote{0, "subject_shredded", row.reference});
    }
    ++row.attempts;
    AttemptNote note{0, "vault_error", row.reference};
    return reschedule(back, now + BackoffDelay(options_.backoff, row.attempts, uniform_(), std::nullopt), note);
  }
  const adapters::Request req = BuildRequest(lane, row, *ids);

  auto call = [&] { return confirming ? adapter.Confirm(req, row.reference) : adapter.Deliver(req); };
  Outcome out = call();
  if (confirming) {
    ++row.polls;
  } else {
    ++row.attempts;
  }
  if (out.cls == OutcomeClass::kReauthenticate) {
    if (adapter.Reauthenticate()) {
      out = call();
      if (out.cls == OutcomeClass::kReauthenticate) out = AuthFailed(out);
    } else {
      out = AuthFailed(out);
    }
  }
  now = clock_.NowMillis();
  if (metrics_) {
    metrics_
        ->GetCounter("consentd_propagation_attempts_total", "Delivery attempts and confirm polls by outcome class",
                     {{"system", row.system}, {"class", std::string(adapters::OutcomeClassName(out.cls))}})
        .Add();
  }
  // A system id the vault did not have: linked with this row's step (not
  // for an erasure: the subject is on its way out).
  if (!out.system_id.empty() && req.customer.system_id.empty() && row.kind == service::ChangeKind::kConsent &&
      out.cls != OutcomeClass::kRetry && out.cls != OutcomeClass::kPermanent) {
    std::string qualifier;
    std::optional<domain::IdentifierType> own = OwnIdType(lane.target.system, &qualifier);
    if (own) f.learned = domain::Identifier{domain::IdentifierKind(*own), out.system_id, qualifier};
  }
  if (out.cls != OutcomeClass::kRetry) lane.consecutive_failures.store(0);
  AttemptNote note{out.http_status, out.code.empty() ? std::string(adapters::OutcomeClassName(out.cls)) : out.code,
                   out.reference.empty() ? row.reference : out.reference};
  auto observe_ack = [&] {
    if (row.acked_ms == 0) {
      row.acked_ms = now;
      if (lane.lag) lane.lag->Observe(static_cast<double>(now - row.created_ms) / 1000.0);
    }
  };
  switch (out.cls) {
    case OutcomeClass::kDone:
      observe_ack();
      return finish(DeliveryResult::kConfirmed, note);
    case OutcomeClass::kAlreadyDone:
      observe_ack();
      return finish(DeliveryResult::kAlreadyDone, note);
    case OutcomeClass::kAccepted: {
      observe_ack();
      if (now - row.created_ms > options_.max_age_ms) return finish(DeliveryResult::kFailed, note);
      row.reference = SanitizeReference(note.reference);
      const int64_t delay = BackoffDelay(options_.confirm_backoff, std::max(row.polls, 1), 0.5 + uniform_() / 2, out.retry_after_ms);
      return reschedule(RowState::kAccepted, now + delay, note);
    }
    case OutcomeClass::kRetry: {
      if (out.retry_after_ms && lane.target.bucket) lane.target.bucket->PauseUntil(now + *out.retry_after_ms);
      const int32_t failures = lane.consecutive_failures.fetch_add(1) + 1;
      if (failures >= 3 && lane.target.bucket) {
        BackoffPolicy lane_backoff{options_.backoff.base_ms, std::min<int64_t>(options_.backoff.cap_ms, 60000)};
        lane.target.bucket->PauseUntil(now + BackoffDelay(lane_backoff, failures - 2, 0.5 + uniform_() / 2, std::nullopt));
      }
      const bool out_of_attempts = !confirming && row.attempts >= options_.max_attempts;
      const int64_t delay = BackoffDelay(confirming ? options_.confirm_backoff : options_.backoff,
                                         confirming ? std::max(row.polls, 1) : row.attempts, uniform_(),
                                         out.retry_after_ms);
      if (out_of_attempts || now + delay - row.created_ms > options_.max_age_ms) {
        return finish(DeliveryResult::kFailed, note);
      }
      return reschedule(back, now + delay, note);
    }
    case OutcomeClass::kReauthenticate:  // handled above; never reaches here
    case OutcomeClass::kPermanent:
      break;
  }
  return finish(DeliveryResult::kFailed, note);
}

void Dispatcher::RecordLoop(Lane& lane) {
  std::unique_lock<std::mutex> lock(lane.mu);
  for (;;) {
    lane.record_cv.wait(lock, [&] { return !lane.finished.empty() || lane.recorder_stop; });
    if (lane.finished.empty()) return;  // stopping, and everything is recorded
    std::vector<Finished> done;
    done.swap(lane.finished);
    lock.unlock();
    // Everything finished while the previous transaction committed goes
    // into the next one: the batch grows with the load.
    Record(lane, done);
    lock.lock();
    for (const Finished& f : done) lane.busy.erase(f.step.row.id);
    lane.dirty = true;  // the subjects' next rows may be eligible now
    lane.cv.notify_all();
  }
}

void Dispatcher::Record(Lane& lane, std::vector<Finished>& done) {
  std::vector<RowStep> batch;
  std::vector<Finished*> alone;  // steps that link a learned id: through the learner, one by one
  for (Finished& f : done) {
    if (f.learned && learner_) {
      alone.push_back(&f);
    } else {
      batch.push_back(f.step);
    }
  }
  if (!batch.empty()) {
    Status s = outbox_.Record(batch);
    if (s.ok()) {
      for (const RowStep& st : batch) Recorded(st);
    } else if (batch.size() == 1) {
      NotRecorded(batch[0], s);
    } else {
      // One row changed by someone else (or a listener error) fails the
      // whole transaction: record them one by one, so only that one fails.
      if (logger_ && s.code() != StatusCode::kFailedPrecondition) {
        logger_->Error("propagation.record_failed",
                       {{"system", lane.target.system.id}, {"rows", batch.size()}, {"error", s.ToString()}});
      }
      for (Finished& f : done) {
        if (!(f.learned && learner_)) {
          Finished one{f.step, std::nullopt};
          RecordOne(lane, one);
        }
      }
    }
  }
  for (Finished* f : alone) RecordOne(lane, *f);
}

void Dispatcher::RecordOne(Lane& lane, Finished& f) {
  std::vector<RowStep> one{f.step};
  WriteFn write;
  if (f.learned && learner_) {
    write = [this, &f](std::vector<ledger::NewEntry> entries, ledger::WriteHook hook) {
      return learner_(f.step.row.sid, *f.learned, std::move(entries), std::move(hook));
    };
  }
  Status s = outbox_.Record(one, write);
  if (s.ok()) return Recorded(one[0]);
  NotRecorded(f.step, s);
  (void)lane;
}

void Dispatcher::NotRecorded(const RowStep& st, const Status& s) {
  const bool final_step = IsFinal(st.to);
  if (logger_) {
    logger_->Error(final_step ? "propagation.finish_failed" : "propagation.reschedule_failed",
                   {{"system", st.row.system}, {"outbox_id", st.row.id}, {"error", s.ToString()}});
  }
  // A final step that failed leaves the row open (in_flight rows go back
  // to pending at the next start; an accepted row is polled again): at
  // least once.
  if (final_step && st.from == RowState::kInFlight && s.code() != StatusCode::kFailedPrecondition) {
    Status rs = outbox_.Reschedule(st.row, RowState::kInFlight, RowState::kPending,
                                   clock_.NowMillis() + options_.backoff.base_ms, st.note);
    (void)rs;  // logged above; the next start resets it otherwise
  }
}

void Dispatcher::Recorded(const RowStep& st) {
  if (!IsFinal(st.to)) return;
  if (metrics_) {
    metrics_
        ->GetCounter("consentd_propagation_outcomes_total", "Final delivery outcomes (ledger entries) by result",
                     {{"system", st.row.system}, {"result", std::string(DeliveryResultName(st.result))}})
        .Add();
  }
  if (st.result == DeliveryResult::kFailed && logger_) {
    logger_->Warn("propagation.dead_letter", {{"system", st.row.system},
                                              {"outbox_id", st.row.id},
                                              {"code", st.outcome.detail},
                                              {"http_status", st.note.http_status},
                                              {"attempts", st.row.attempts},
                                              {"outcome_seq", st.outcome.outcome_seq}});
  }
}

std::vector<SystemStatus> Dispatcher::CachedSystems() {
  std::lock_guard<std::mutex> lock(cache_mu_);
  const int64_t now = clock_.NowMillis();
  if (cache_time_ms_ < 0 || now - cache_time_ms_ >= 1000 || now < cache_time_ms_) {
    Result<std::vector<SystemStatus>> all = outbox_.Systems();
    if (all.ok()) {
      cache_ = std::move(*all);
      cache_time_ms_ = now;
    }
  }
  return cache_;
}

void Dispatcher::RegisterMetrics(Lane& lane) {
  if (!metrics_) return;
  const std::string id = lane.target.system.id;
  const obs::Labels labels = {{"system", id}};
  lane.lag = &metrics_->GetHistogram("consentd_propagation_delivery_lag_seconds",
                                     "From the commit of a change to the system's 2xx", LagBuckets(), labels);
  lane.rate_limit_waits = &metrics_->GetCounter(
      "consentd_propagation_rate_limit_waits_total", "Requests that waited for the system's rate limit", labels);
  if (lane.target.bucket) lane.target.bucket->SetWaitCounter(lane.rate_limit_waits);
  auto field = [this, id](auto get) {
    return [this, id, get] {
      for (const SystemStatus& s : CachedSystems()) {
        if (s.system == id) return get(s);
      }
      return 0.0;
    };
  };
  metrics_->AddGaugeFunction("consentd_propagation_queue_depth", "Open outbox rows (pending, in flight, accepted)",
                             field([](const SystemStatus& s) { return static_cast<double>(s.queue_depth); }), labels);
  metrics_->AddGaugeFunction("consentd_propagation_oldest_pending_age_seconds", "Age of the oldest open outbox row",
                             field([this](const SystemStatus& s) {
                               if (s.oldest_pending_created_ms == 0) return 0.0;
                               return static_cast<double>(clock_.NowMillis() - s.oldest_pending_created_ms) / 1000.0;
                             }),
                             labels);
  metrics_->AddGaugeFunction("consentd_propagation_dead_letters", "Outbox rows in the dead state",
                             field([](const SystemStatus& s) { return static_cast<double>(s.dead); }), labels);
  metrics_->AddGaugeFunction("consentd_propagation_paused", "1 while deliveries to the system are paused",
                             field([](const SystemStatus& s) { return s.paused ? 1.0 : 0.0; }), labels);
  metrics_->AddGaugeFunction("consentd_propagation_available",
                             "1 when the system's adapter could be built and the system is in the policy",
                             [l = &lane] { return l->available.load() ? 1.0 : 0.0; }, labels);
}

}  // namespace consentd::propagation
