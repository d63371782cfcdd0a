// Metrics: counters, gauges and histograms rendered in the Prometheus text
// exposition format (version 0.0.4) for GET /metrics.
//
// Label values are ids and codes chosen by consentd (routes, status codes,
// system ids), never personal data.
//
// Thread-safety: all methods are thread-safe. Counter/Histogram references
// returned by the registry stay valid for the registry's lifetime, so hot
// paths look a series up once and keep the reference.
#ifndef CONSENTD_OBS_METRICS_H_
#define CONSENTD_OBS_METRICS_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

namespace consentd::obs {

using Labels = std::vector<std::pair<std::string, std::string>>;

class Counter {
 public:
  void Add(uint64_t n = 1) { v_.fetch_add(n, std::memory_order_relaxed); }
  uint64_t value() const { return v_.load(std::memory_order_relaxed); }

 private:
  std::atomic<uint64_t> v_{0};
};

class Gauge {
 public:
  void Set(double v) { v_.store(v, std::memory_order_relaxed); }
  double value() const { return v_.load(std::memory_order_relaxed); }

 private:
  std::atomic<double> v_{0};
};

// A cumulative histogram with fixed upper bounds.
class Histogram {
 public:
  explicit Histogram(std::vector<double> bounds);
  void Observe(double v);
  // Snapshot: cumulative counts per bound (+Inf last), sum and count.
  struct Snapshot {
    std::vector<double> bounds;
    std::vector<uint64_t> cumulative;
    double sum = 0;
    uint64_t count = 0;
  };
  Snapshot Read() const;

 private:
  const std::vector<double> bounds_;
  std::unique_ptr<std::atomic<uint64_t>[]> counts_;  // one per bound, plus +Inf
  std::atomic<uint64_t> sum_micro_{0};              // sum in millionths
  std::atomic<uint64_t> count_{0};
};

// Latency buckets in seconds, 50 µs to 10 s.
std::vector<double> LatencyBuckets();
// Size buckets 1, 2, 4, ... 4096.
std::vector<double> SizeBuckets();

class MetricsRegistry {
 public:
  // Returns the series (name, labels), creating it on first use. `help` of
  // the first registration of `name` wins. REQUIRES: a name is used with one
  // type only.
  Counter& GetCounter(const std::string& name, const std::string& help, const Labels& labels = {});
  Gauge& GetGauge(const std::string& name, const std::string& help, const Labels& labels = {});
  Histogram& GetHistogram(const std::string& name, const std::string& help, const std::vector<double>& bounds,
                          const Labels& labels = {});
  // A gauge computed at render time (queue depth, ledger size...).
  void AddGaugeFunction(const std::string& name, const std::string& help, std::function<double()> fn,
                        const Labels& labels = {});

  // Prometheus text format, families sorted by name.
  std::string Render() const;

 private:
  enum class Type { kCounter, kGauge, kHistogram };
  struct Family {
    Type type;
    std::string help;
    std::map<std::string, std::unique_ptr<Counter>> counters;     // by rendered labels
    std::map<std::string, std::unique_ptr<Gauge>> gauges;
    std::map<std::string, std::unique_ptr<Histogram>> histograms;
    std::map<std::string, std::function<double()>> functions;
  };
  Family& FamilyFor(const std::string& name, const std::string& help, Type type);

  mutable std::mutex mu_;
  std::map<std::string, Family> families_;
};

// {a="x",b="y"} with Prometheus escaping; "" for no labels.
std::string RenderLabels(const Labels& labels);

}  // namespace consentd::obs

#endif  // CONSENTD_OBS_METRICS_H_
