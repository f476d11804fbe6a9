// Small helpers shared by the `vrec bench` benchmarks.
#ifndef VREC_TOOLS_BENCH_UTIL_H_
#define VREC_TOOLS_BENCH_UTIL_H_

#include <algorithm>
#include <chrono>
#include <vector>

#include "absl/status/status.h"

namespace vrec {

inline double Seconds(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

struct Percentiles {
  double p50_us, p99_us, mean_us;
};

inline Percentiles Summarize(std::vector<double> micros) {
  if (micros.empty()) return {0, 0, 0};
  std::sort(micros.begin(), micros.end());
  double sum = 0;
  for (double m : micros) sum += m;
  auto at = [&](double q) { return micros[std::min(micros.size() - 1, static_cast<size_t>(q * micros.size()))]; };
  return {at(0.50), at(0.99), sum / micros.size()};
}

// `vrec bench retrieval` (tools/bench_retrieval.cc).
absl::Status BenchRetrieval(int argc, char** argv);
// `vrec bench ranking` (tools/bench_ranking.cc).
absl::Status BenchRanking(int argc, char** argv);
// `vrec bench feed` (tools/bench_feed.cc).
absl::Status BenchFeed(int argc, char** argv);

}  // namespace vrec

#endif  // VREC_TOOLS_BENCH_UTIL_H_
