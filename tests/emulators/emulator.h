// Emulator: the common part of the test doubles of the downstream systems
// (tests/emulators/<kind>_emulator.cc). One process serves one system kind on
// 127.0.0.1, keeps its state in memory, enforces an optional rate limit, and
// can be told to misbehave. Tests talk to it through the control API:
//
//   GET  /_emulator/state   the kind's state as JSON (customers, consent, deletions, blocklists...)
//   GET  /_emulator/stats   {"requests":N,"by_status":{"200":N,...},"throttled":N,"max_in_flight":N}
//                            (throttled: answers in the kind's 429 shape caused by the rate limit or
//                            throttle_next; a rate-limited run with throttled 0 never exceeded R)
//   POST /_emulator/faults  a Faults object (all members optional; replaces the current faults)
//   POST /_emulator/seed    kind-specific JSON that adds records (e.g. existing customers)
//   POST /_emulator/reset   clears state, stats and faults
//
// Faults (JSON members):
//   error_rate (0..1) + error_status (default 503): answer that status instead of serving
//   latency_ms: delay every request
//   timeout_rate (0..1) + hang_ms (default 15000): hang before answering (client times out)
//   drop_rate (0..1): send headers and close the connection mid-body
//   throttle_next (N): the next N requests are throttled (the kind's 429 shape) with retry_after
//   malformed_next (N): the next N requests answer 200 with a truncated JSON body (nothing applied)
//   retry_after (string, default "1"): Retry-After value for throttled answers
//   expire_tokens (bool): the kind's auth check fails with its "expired token" answer
//   rate_limit {"rps":R,"burst":B}: enforce a token bucket; excess requests are throttled
//   seed (int): random seed for the rates above (default 1; runs are reproducible)
//
// A kind registers its routes with Route(); the Emulator wraps each handler
// with the faults, the rate limit, the auth check and the statistics. The
// control API is exempt from all of them.
//
// Thread-safety: handlers run on cpp-httplib's worker threads; kinds guard
// their state with mu().
#ifndef CONSENTD_TESTS_EMULATORS_EMULATOR_H_
#define CONSENTD_TESTS_EMULATORS_EMULATOR_H_

#include <httplib.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <random>
#include <string>

namespace consentd::emulators {

struct Faults {
  double error_rate = 0;
  int error_status = 503;
  int latency_ms = 0;
  double timeout_rate = 0;
  int hang_ms = 15000;
  double drop_rate = 0;
  int throttle_next = 0;
  int malformed_next = 0;
  std::string retry_after = "1";
  bool expire_tokens = false;
  double rate_rps = 0;  // 0: no rate limit
  double rate_burst = 1;
  uint32_t seed = 1;
};

class Emulator {
 public:
  using Handler = std::function<void(const httplib::Request&, httplib::Response&)>;
  // Writes the kind's throttled answer (429 + Retry-After for most; Shopify
  // GraphQL THROTTLED, Salesforce 403 REQUEST_LIMIT_EXCEEDED...).
  using ThrottleWriter = std::function<void(httplib::Response&, const std::string& retry_after)>;
  // True when the request's credentials are valid. `expired` is the
  // expire_tokens fault.
  using AuthCheck = std::function<bool(const httplib::Request&, bool expired)>;
  // Writes the kind's 401 (or equivalent) answer.
  using AuthFailureWriter = std::function<void(const httplib::Request&, httplib::Response&)>;

  explicit Emulator(std::string kind);

  const std::string& kind() const { return kind_; }
  std::mutex& mu() { return mu_; }
  httplib::Server& server() { return server_; }

  // Registers a route: method "GET", "POST", "PUT", "PATCH" or "DELETE";
  // `pattern` a cpp-httplib regex. `authenticated` routes go through the
  // auth check (a token endpoint is registered with false).
  void Route(const std::string& method, const std::string& pattern, Handler handler, bool authenticated = true);

  void SetThrottleWriter(ThrottleWriter w) { throttle_writer_ = std::move(w); }
  // As ThrottleWriter, for kinds whose throttled answer depends on the request
  // (Shopify: GraphQL 200 THROTTLED, REST 429). Takes precedence when set.
  using RequestThrottleWriter =
      std::function<void(const httplib::Request&, httplib::Response&, const std::string& retry_after)>;
  void SetRequestThrottleWriter(RequestThrottleWriter w) { request_throttle_writer_ = std::move(w); }
  void SetAuth(AuthCheck check, AuthFailureWriter failure) {
    auth_check_ = std::move(check);
    auth_failure_ = std::move(failure);
  }
  // The kind's state for /_emulator/state (called under mu()).
  void SetStateFn(std::function<nlohmann::json()> fn) { state_fn_ = std::move(fn); }
  // Applies /_emulator/seed (called under mu()); returns false for a body it rejects.
  void SetSeedFn(std::function<bool(const nlohmann::json&)> fn) { seed_fn_ = std::move(fn); }
  // Clears the kind's state for /_emulator/reset (called under mu()).
  void SetResetFn(std::function<void()> fn) { reset_fn_ = std::move(fn); }

  // Requests being served right now (this one included), for kinds with a
  // concurrency limit (Mailchimp: 10 simultaneous connections).
  int in_flight() const { return in_flight_.load(); }

  // The expire_tokens fault, for kinds whose token endpoint clears it.
  bool tokens_expired();
  void clear_expired_tokens();

  // Serves on 127.0.0.1:`port` (0: any free port); prints
  // "EMULATOR_LISTENING <port>" on stdout once listening. Blocks.
  int Run(int port);

 private:
  bool ApplyFaults(const httplib::Request& req, httplib::Response& res);
  void Record(int status);

  std::string kind_;
  httplib::Server server_;
  std::mutex mu_;  // the kind's state
  std::mutex fault_mu_;
  Faults faults_;  // guarded by fault_mu_
  std::mt19937 rng_;  // guarded by fault_mu_
  double bucket_tokens_ = 0;  // guarded by fault_mu_
  std::chrono::steady_clock::time_point bucket_time_;
  std::mutex stats_mu_;
  nlohmann::json stats_;  // guarded by stats_mu_
  std::atomic<int> in_flight_{0};
  ThrottleWriter throttle_writer_;
  RequestThrottleWriter request_throttle_writer_;
  AuthCheck auth_check_;
  AuthFailureWriter auth_failure_;
  std::function<nlohmann::json()> state_fn_;
  std::function<bool(const nlohmann::json&)> seed_fn_;
  std::function<void()> reset_fn_;
};

// One function per kind (tests/emulators/<kind>_emulator.cc) that registers
// the kind's routes, state, seed, reset, throttle and auth behaviour.
void RegisterShopify(Emulator& emu);
void RegisterWooCommerce(Emulator& emu);
void RegisterHubSpot(Emulator& emu);
void RegisterSalesforce(Emulator& emu);
void RegisterKlaviyo(Emulator& emu);
void RegisterMailchimp(Emulator& emu);
void RegisterWebhookReceiver(Emulator& emu);

}  // namespace consentd::emulators

#endif  // CONSENTD_TESTS_EMULATORS_EMULATOR_H_
