#include "serving/metrics.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace vrec::serving {

void ServingMetrics::RecordRequest(absl::string_view route, int http_status, double seconds) {
  absl::MutexLock lock(&mu_);
  ++requests_[{std::string(route), http_status}];
  Histogram& h = latency_[std::string(route)];
  for (size_t i = 0; i < kLatencyBucketsSeconds.size(); ++i) {
    if (seconds <= kLatencyBucketsSeconds[i]) ++h.buckets[i];
  }
  ++h.count;
  h.sum += seconds;
}

void ServingMetrics::Increment(absl::string_view name, uint64_t delta) {
  absl::MutexLock lock(&mu_);
  counters_[std::string(name)] += delta;
}

void ServingMetrics::SetGauge(absl::string_view name, double value) {
  absl::MutexLock lock(&mu_);
  gauges_[std::string(name)] = value;
}

std::string ServingMetrics::RenderPrometheus() const {
  absl::MutexLock lock(&mu_);
  std::string out;
  out += "# HELP vrec_http_requests_total HTTP requests by route and status code.\n";
  out += "# TYPE vrec_http_requests_total counter\n";
  for (const auto& [key, count] : requests_) {
    absl::StrAppend(&out, "vrec_http_requests_total{route=\"", key.first, "\",code=\"", key.second,
                    "\"} ", count, "\n");
  }
  out += "# HELP vrec_http_request_duration_seconds Request latency by route.\n";
  out += "# TYPE vrec_http_request_duration_seconds histogram\n";
  for (const auto& [route, h] : latency_) {
    for (size_t i = 0; i < kLatencyBucketsSeconds.size(); ++i) {
      absl::StrAppendFormat(&out, "vrec_http_request_duration_seconds_bucket{route=\"%s\",le=\"%g\"} %d\n",
                            route, kLatencyBucketsSeconds[i], h.buckets[i]);
    }
    absl::StrAppendFormat(&out, "vrec_http_request_duration_seconds_bucket{route=\"%s\",le=\"+Inf\"} %d\n",
                          route, h.count);
    absl::StrAppendFormat(&out, "vrec_http_request_duration_seconds_sum{route=\"%s\"} %.6f\n", route, h.sum);
    absl::StrAppendFormat(&out, "vrec_http_request_duration_seconds_count{route=\"%s\"} %d\n", route, h.count);
  }
  // A name may carry labels ("family{label=\"x\"}"); one TYPE line per family.
  absl::string_view family_done;
  for (const auto& [name, value] : counters_) {
    const absl::string_view family = absl::string_view(name).substr(0, name.find('{'));
    if (family != family_done) absl::StrAppend(&out, "# TYPE ", family, " counter\n");
    family_done = family;
    absl::StrAppend(&out, name, " ", value, "\n");
  }
  family_done = absl::string_view();
  for (const auto& [name, value] : gauges_) {
    const absl::string_view family = absl::string_view(name).substr(0, name.find('{'));
    if (family != family_done) absl::StrAppend(&out, "# TYPE ", family, " gauge\n");
    family_done = family;
    absl::StrAppendFormat(&out, "%s %.17g\n", name, value);
  }
  return out;
}

}  // namespace vrec::serving
