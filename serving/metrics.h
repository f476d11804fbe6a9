// Serving metrics in the Prometheus text format (GET /metrics): requests by route and status,
// latency histograms by route, and named counters.
#ifndef VREC_SERVING_METRICS_H_
#define VREC_SERVING_METRICS_H_

#include <array>
#include <cstdint>
#include <map>
#include <string>
#include <utility>

#include "absl/base/thread_annotations.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"

namespace vrec::serving {

// Thread-safe.
class ServingMetrics {
 public:
  static constexpr std::array<double, 14> kLatencyBucketsSeconds = {
      0.0005, 0.001, 0.0025, 0.005, 0.0075, 0.01, 0.015, 0.02, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0};

  // One finished request on `route` ("/v1/feed", or "other" for unknown paths).
  void RecordRequest(absl::string_view route, int http_status, double seconds);
  // Adds `delta` to counter `name`: a Prometheus metric name, e.g. "vrec_cold_start_total",
  // optionally with labels, e.g. "vrec_source_failures_total{source=\"fresh\"}".
  void Increment(absl::string_view name, uint64_t delta = 1);
  // Sets gauge `name` (same naming as counters) to `value`.
  void SetGauge(absl::string_view name, double value);
  std::string RenderPrometheus() const;

 private:
  struct Histogram {
    std::array<uint64_t, kLatencyBucketsSeconds.size()> buckets{};
    uint64_t count = 0;
    double sum = 0;
  };
  mutable absl::Mutex mu_;
  std::map<std::pair<std::string, int>, uint64_t> requests_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, Histogram> latency_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, uint64_t> counters_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, double> gauges_ ABSL_GUARDED_BY(mu_);
};

}  // namespace vrec::serving

#endif  // VREC_SERVING_METRICS_H_
