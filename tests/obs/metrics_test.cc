// MetricsRegistry renders the Prometheus text exposition format 0.0.4:
// HELP and TYPE once per family, counters and gauges, histograms with
// cumulative buckets, _sum and _count, and escaped label values.
#include "src/obs/metrics.h"

#include <algorithm>
#include <catch2/catch.hpp>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

namespace consentd::obs {
namespace {

std::vector<std::string> Lines(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) out.push_back(line);
  return out;
}

bool Has(const std::string& text, const std::string& line) {
  for (const std::string& l : Lines(text)) {
    if (l == line) return true;
  }
  return false;
}

TEST_CASE("Counters and gauges render with HELP, TYPE and their labels", "[obs][metrics]") {
  MetricsRegistry m;
  m.GetCounter("consentd_requests_total", "Requests", {{"route", "/v1/consents"}, {"status", "201"}}).Add(3);
  m.GetCounter("consentd_requests_total", "ignored: the first help wins", {{"route", "/v1/consents"}, {"status", "400"}})
      .Add();
  m.GetCounter("consentd_requests_total", "Requests", {{"route", "/v1/consents"}, {"status", "201"}}).Add(2);
  m.GetGauge("consentd_queue_depth", "Queue depth").Set(2.5);
  double v = 7;
  m.AddGaugeFunction("consentd_ledger_size", "Entries", [&v] { return v; });
  m.GetCounter("consentd_plain_total", "No labels").Add();
  const std::string text = m.Render();
  INFO(text);
  CHECK(Has(text, "# HELP consentd_requests_total Requests"));
  CHECK(Has(text, "# TYPE consentd_requests_total counter"));
  CHECK(Has(text, R"(consentd_requests_total{route="/v1/consents",status="201"} 5)"));
  CHECK(Has(text, R"(consentd_requests_total{route="/v1/consents",status="400"} 1)"));
  CHECK(Has(text, "# TYPE consentd_queue_depth gauge"));
  CHECK(Has(text, "consentd_queue_depth 2.5"));
  CHECK(Has(text, "# TYPE consentd_ledger_size gauge"));
  CHECK(Has(text, "consentd_ledger_size 7"));
  CHECK(Has(text, "consentd_plain_total 1"));
  v = 1234567;
  CHECK(Has(m.Render(), "consentd_ledger_size 1234567"));

  // Each family's HELP and TYPE appear once, families sorted by name.
  int help = 0;
  std::vector<std::string> families;
  for (const std::string& l : Lines(text)) {
    if (l.rfind("# HELP consentd_requests_total", 0) == 0) ++help;
    if (l.rfind("# TYPE ", 0) == 0) families.push_back(l.substr(7, l.find(' ', 7) - 7));
  }
  CHECK(help == 1);
  CHECK(std::is_sorted(families.begin(), families.end()));
  CHECK(families.size() == 4);
  // Every line ends in a newline (the format requires it).
  CHECK(text.back() == '\n');
}

TEST_CASE("Histograms have cumulative buckets, +Inf, _sum and _count", "[obs][metrics]") {
  MetricsRegistry m;
  Histogram& h = m.GetHistogram("consentd_latency_seconds", "Latency", {0.1, 1, 10}, {{"route", "/x"}});
  for (double v : {0.05, 0.1, 0.5, 0.7, 5.0, 50.0}) h.Observe(v);
  Histogram::Snapshot s = h.Read();
  CHECK(s.cumulative == std::vector<uint64_t>{2, 4, 5, 6});
  CHECK(s.count == 6);
  CHECK(s.sum == Approx(56.35));
  const std::string text = m.Render();
  INFO(text);
  CHECK(Has(text, "# TYPE consentd_latency_seconds histogram"));
  CHECK(Has(text, R"(consentd_latency_seconds_bucket{route="/x",le="0.1"} 2)"));
  CHECK(Has(text, R"(consentd_latency_seconds_bucket{route="/x",le="1"} 4)"));
  CHECK(Has(text, R"(consentd_latency_seconds_bucket{route="/x",le="10"} 5)"));
  CHECK(Has(text, R"(consentd_latency_seconds_bucket{route="/x",le="+Inf"} 6)"));
  CHECK(Has(text, R"(consentd_latency_seconds_sum{route="/x"} 56.35)"));
  CHECK(Has(text, R"(consentd_latency_seconds_count{route="/x"} 6)"));

  // Without labels, le is the only label.
  Histogram& b = m.GetHistogram("consentd_batch_size", "Batch", SizeBuckets());
  b.Observe(3);
  const std::string t2 = m.Render();
  CHECK(Has(t2, R"(consentd_batch_size_bucket{le="2"} 0)"));
  CHECK(Has(t2, R"(consentd_batch_size_bucket{le="4"} 1)"));
  CHECK(Has(t2, R"(consentd_batch_size_bucket{le="4096"} 1)"));
  CHECK(Has(t2, R"(consentd_batch_size_bucket{le="+Inf"} 1)"));
  CHECK(Has(t2, "consentd_batch_size_count 1"));
  // Buckets never decrease.
  uint64_t last = 0;
  for (uint64_t c : b.Read().cumulative) {
    CHECK(c >= last);
    last = c;
  }
  const std::vector<double> latency = LatencyBuckets();
  CHECK(latency.front() > 0);
  CHECK(std::is_sorted(latency.begin(), latency.end()));
}

TEST_CASE("Label values and help texts are escaped", "[obs][metrics]") {
  CHECK(RenderLabels({}).empty());
  CHECK(RenderLabels({{"a", "x"}, {"b", "y"}}) == R"({a="x",b="y"})");
  CHECK(RenderLabels({{"v", "back\\slash"}}) == R"({v="back\\slash"})");
  CHECK(RenderLabels({{"v", "say \"hi\""}}) == R"({v="say \"hi\""})");
  CHECK(RenderLabels({{"v", "two\nlines"}}) == R"({v="two\nlines"})");

  MetricsRegistry m;
  m.GetCounter("consentd_odd_total", "Help with a \\ backslash\nand a newline", {{"system", "a\"b\\c\nd"}}).Add();
  const std::string text = m.Render();
  INFO(text);
  CHECK(Has(text, R"(consentd_odd_total{system="a\"b\\c\nd"} 1)"));
  // A newline in the help text must not start a new (bogus) line.
  CHECK(Has(text, R"(# HELP consentd_odd_total Help with a \\ backslash\nand a newline)"));
  for (const std::string& l : Lines(text)) {
    CHECK((l.rfind("# ", 0) == 0 || l.rfind("consentd_odd_total", 0) == 0));
  }
}

TEST_CASE("Counters and histograms are safe to update from many threads", "[obs][metrics]") {
  MetricsRegistry m;
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&m, t] {
      for (int i = 0; i < 1000; ++i) {
        m.GetCounter("consentd_hits_total", "Hits", {{"t", std::to_string(t % 2)}}).Add();
        m.GetHistogram("consentd_h_seconds", "H", LatencyBuckets()).Observe(0.001);
        if (i % 100 == 0) (void)m.Render();
      }
    });
  }
  for (auto& t : threads) t.join();
  const std::string text = m.Render();
  CHECK(Has(text, R"(consentd_hits_total{t="0"} 2000)"));
  CHECK(Has(text, R"(consentd_hits_total{t="1"} 2000)"));
  CHECK(Has(text, "consentd_h_seconds_count 4000"));
  CHECK(Has(text, R"(consentd_h_seconds_bucket{le="+Inf"} 4000)"));
}

}  // namespace
}  // namespace consentd::obs
