#include "tests/emulators/emulator.h"

#include <cstdio>
#include <exception>
#include <thread>

namespace consentd::emulators {

namespace {

void WriteJson(httplib::Response& res, int status, const nlohmann::json& body) {
  res.status = status;
  res.set_content(body.dump(), "application/json");
}

}  // namespace

Emulator::Emulator(std::string kind) : kind_(std::move(kind)), rng_(1), bucket_time_(std::chrono::steady_clock::now()) {
  stats_ = {{"requests", 0}, {"by_status", nlohmann::json::object()}, {"throttled", 0}, {"max_in_flight", 0}};
  throttle_writer_ = [](httplib::Response& res, const std::string& retry_after) {
    res.status = 429;
    res.set_header("Retry-After", retry_after);
    res.set_content(R"({"error":"rate limited"})", "application/json");
  };
  server_.set_exception_handler([](const httplib::Request&, httplib::Response& res, std::exception_ptr) {
    WriteJson(res, 500, {{"error", "emulator exception"}});
  });
  server_.set_tcp_nodelay(true);
  // Real APIs take many concurrent connections. cpp-httplib holds a worker
  // thread per keep-alive connection and its default pool has 8, so a 9th
  // concurrent client would wait for a whole keep-alive period: a stall no
  // real system shows, which made benchmark tails measure the emulator.
  server_.new_task_queue = [] { return new httplib::ThreadPool(64); };

  server_.Get("/_emulator/state", [this](const httplib::Request&, httplib::Response& res) {
    std::lock_guard<std::mutex> lock(mu_);
    WriteJson(res, 200, state_fn_ ? state_fn_() : nlohmann::json::object());
  });
  server_.Get("/_emulator/stats", [this](const httplib::Request&, httplib::Response& res) {
    std::lock_guard<std::mutex> lock(stats_mu_);
    WriteJson(res, 200, stats_);
  });
  server_.Post("/_emulator/faults", [this](const httplib::Request& req, httplib::Response& res) {
    nlohmann::json j = nlohmann::json::parse(req.body, nullptr, false);
    if (!j.is_object()) return WriteJson(res, 400, {{"error", "faults must be a JSON object"}});
    Faults f;
    f.error_rate = j.value("error_rate", 0.0);
    f.error_status = j.value("error_status", 503);
    f.latency_ms = j.value("latency_ms", 0);
    f.timeout_rate = j.value("timeout_rate", 0.0);
    f.hang_ms = j.value("hang_ms", 15000);
    f.drop_rate = j.value("drop_rate", 0.0);
    f.throttle_next = j.value("throttle_next", 0);
    f.malformed_next = j.value("malformed_next", 0);
    f.retry_after = j.value("retry_after", std::string("1"));
    f.expire_tokens = j.value("expire_tokens", false);
    f.seed = j.value("seed", 1u);
    if (j.contains("rate_limit")) {
      f.rate_rps = j["rate_limit"].value("rps", 0.0);
      f.rate_burst = j["rate_limit"].value("burst", 1.0);
    }
    std::lock_guard<std::mutex> lock(fault_mu_);
    faults_ = f;
    rng_.seed(f.seed);
    bucket_tokens_ = f.rate_burst;
    bucket_time_ = std::chrono::steady_clock::now();
    WriteJson(res, 200, {{"ok", true}});
  });
  server_.Post("/_emulator/seed", [this](const httplib::Request& req, httplib::Response& res) {
    nlohmann::json j = nlohmann::json::parse(req.body, nullptr, false);
    std::lock_guard<std::mutex> lock(mu_);
    if (j.is_discarded() || !seed_fn_ || !seed_fn_(j)) return WriteJson(res, 400, {{"error", "bad seed"}});
    WriteJson(res, 200, {{"ok", true}});
  });
  server_.Post("/_emulator/reset", [this](const httplib::Request&, httplib::Response& res) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (reset_fn_) reset_fn_();
    }
    {
      std::lock_guard<std::mutex> lock(fault_mu_);
      faults_ = Faults();
      rng_.seed(1);
    }
    {
      std::lock_guard<std::mutex> lock(stats_mu_);
      stats_ = {{"requests", 0}, {"by_status", nlohmann::json::object()}, {"throttled", 0}, {"max_in_flight", 0}};
    }
    WriteJson(res, 200, {{"ok", true}});
  });
}

bool Emulator::tokens_expired() {
  std::lock_guard<std::mutex> lock(fault_mu_);
  return faults_.expire_tokens;
}

void Emulator::clear_expired_tokens() {
  std::lock_guard<std::mutex> lock(fault_mu_);
  faults_.expire_tokens = false;
}

void Emulator::Record(int status) {
  std::lock_guard<std::mutex> lock(stats_mu_);
  stats_["requests"] = stats_["requests"].get<int64_t>() + 1;
  auto& by = stats_["by_status"][std::to_string(status)];
  by = by.is_null() ? 1 : by.get<int64_t>() + 1;
}

// Returns true when a fault (or the rate limit) answered the request.
bool Emulator::ApplyFaults(const httplib::Request& req, httplib::Response& res) {
  Faults f;
  double roll_error, roll_timeout, roll_drop;
  bool throttle = false;
  bool malformed = false;
  {
    std::lock_guard<std::mutex> lock(fault_mu_);
    f = faults_;
    std::uniform_real_distribution<double> u(0, 1);
    roll_error = u(rng_);
    roll_timeout = u(rng_);
    roll_drop = u(rng_);
    if (faults_.throttle_next > 0) {
      --faults_.throttle_next;
      throttle = true;
    } else if (faults_.malformed_next > 0) {
      --faults_.malformed_next;
      malformed = true;
    } else if (faults_.rate_rps > 0) {
      auto now = std::chrono::steady_clock::now();
      double elapsed = std::chrono::duration<double>(now - bucket_time_).count();
      bucket_time_ = now;
      bucket_tokens_ = std::min(faults_.rate_burst, bucket_tokens_ + elapsed * faults_.rate_rps);
      if (bucket_tokens_ >= 1) {
        bucket_tokens_ -= 1;
      } else {
        throttle = true;
      }
    }
  }
  if (f.latency_ms > 0) std::this_thread::sleep_for(std::chrono::milliseconds(f.latency_ms));
  if (throttle) {
    if (request_throttle_writer_) {
      request_throttle_writer_(req, res, f.retry_after);
    } else {
      throttle_writer_(res, f.retry_after);
    }
    std::lock_guard<std::mutex> lock(stats_mu_);
    stats_["throttled"] = stats_["throttled"].get<int64_t>() + 1;
    return true;
  }
  if (malformed) {
    res.status = 200;
    res.set_content(R"({"status":"COMPLETE","results":[{"id":)", "application/json");
    return true;
  }
  if (roll_timeout < f.timeout_rate) {
    std::this_thread::sleep_for(std::chrono::milliseconds(f.hang_ms));
    WriteJson(res, 504, {{"error", "emulated timeout"}});
    return true;
  }
  if (roll_drop < f.drop_rate) {
    // Headers go out, then the provider fails: cpp-httplib closes the
    // connection before the promised body, as a dropped connection would.
    res.status = 200;
    res.set_content_provider(
        64, "application/json", [](size_t, size_t, httplib::DataSink&) { return false; }, nullptr);
    return true;
  }
  if (roll_error < f.error_rate) {
    WriteJson(res, f.error_status, {{"error", "emulated failure"}});
    return true;
  }
  return false;
}

void Emulator::Route(const std::string& method, const std::string& pattern, Handler handler, bool authenticated) {
  auto wrapped = [this, handler = std::move(handler), authenticated](const httplib::Request& req,
                                                                      httplib::Response& res) {
    int now = ++in_flight_;
    {
      std::lock_guard<std::mutex> lock(stats_mu_);
      if (now > stats_["max_in_flight"].get<int>()) stats_["max_in_flight"] = now;
    }
    if (!ApplyFaults(req, res)) {
      if (authenticated && auth_check_ && !auth_check_(req, tokens_expired())) {
        if (auth_failure_) {
          auth_failure_(req, res);
        } else {
          WriteJson(res, 401, {{"error", "unauthorized"}});
        }
      } else {
        handler(req, res);
      }
    }
    --in_flight_;
    // A handler that only sets content leaves the status at -1; cpp-httplib
    // sends 200 for it after this wrapper returns.
    Record(res.status == -1 ? 200 : res.status);
  };
  if (method == "GET") {
    server_.Get(pattern, wrapped);
  } else if (method == "POST") {
    server_.Post(pattern, wrapped);
  } else if (method == "PUT") {
    server_.Put(pattern, wrapped);
  } else if (method == "PATCH") {
    server_.Patch(pattern, wrapped);
  } else if (method == "DELETE") {
    server_.Delete(pattern, wrapped);
  }
}

int Emulator::Run(int port) {
  int bound = port;
  if (port == 0) {
    bound = server_.bind_to_any_port("127.0.0.1");
  } else if (!server_.bind_to_port("127.0.0.1", port)) {
    bound = -1;
  }
  if (bound < 0) {
    std::fprintf(stderr, "emulator: cannot bind\n");
    return 1;
  }
  std::printf("EMULATOR_LISTENING %d\n", bound);
  std::fflush(stdout);
  return server_.listen_after_bind() ? 0 : 1;
}

}  // namespace consentd::emulators
