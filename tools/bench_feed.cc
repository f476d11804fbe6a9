// `vrec bench feed`: a bounded, open-loop load generator for GET /v1/feed over loopback HTTP
// against a running `vrec serve`. Requests are scheduled at a fixed rate and spread over
// keep-alive connections; each latency is measured from the request's scheduled time, so a
// slow server cannot hide its queueing (no coordinated omission).
#include <arpa/inet.h>
#include <pthread.h>
#include <sched.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "absl/strings/strip.h"
#include "common/random.h"
#include "common/status.h"
#include "common/world.h"
#include "tools/bench_util.h"
#include "tools/http_connection.h"
#include "tools/flags.h"

namespace vrec {
namespace {

using Connection = HttpConnection;

}  // namespace

// The server's own latency histogram of GET /v1/feed (vrec_http_request_duration_seconds,
// cumulative counts by upper bound in seconds), from its /metrics; empty if unavailable.
std::vector<std::pair<double, uint64_t>> FeedHistogram(Connection& connection) {
  std::vector<std::pair<double, uint64_t>> buckets;
  std::string body;
  // An idle keep-alive connection may have been closed by the server: the retry reopens it.
  if (connection.Get("/metrics", &body) != 200 && connection.Get("/metrics", &body) != 200) return buckets;
  static constexpr absl::string_view kPrefix = "vrec_http_request_duration_seconds_bucket{route=\"/v1/feed\",le=\"";
  for (absl::string_view line : absl::StrSplit(body, '\n')) {
    if (!absl::ConsumePrefix(&line, kPrefix)) continue;
    const size_t quote = line.find('"');
    const size_t space = line.rfind(' ');
    if (quote == absl::string_view::npos || space == absl::string_view::npos) continue;
    double bound = 0;
    uint64_t count = 0;
    const absl::string_view le = line.substr(0, quote);
    if (le == "+Inf") {
      bound = INFINITY;
    } else if (!absl::SimpleAtod(le, &bound)) {
      continue;
    }
    if (!absl::SimpleAtoi(line.substr(space + 1), &count)) continue;
    buckets.emplace_back(bound, count);
  }
  return buckets;
}

// "<= 10 ms": the smallest bucket bound holding a share q of the requests counted between
// two histograms.
std::string ServerQuantile(const std::vector<std::pair<double, uint64_t>>& before,
                           const std::vector<std::pair<double, uint64_t>>& after, double q) {
  // Before the server's first feed request the route has no histogram yet: all zeros.
  if (after.empty() || (!before.empty() && after.size() != before.size())) return "n/a";
  const auto earlier = [&](size_t i) { return before.empty() ? uint64_t{0} : before[i].second; };
  const uint64_t total = after.back().second - earlier(after.size() - 1);
  if (total == 0) return "n/a";
  for (size_t i = 0; i < after.size(); ++i) {
    if (static_cast<double>(after[i].second - earlier(i)) >= q * total) {
      return std::isinf(after[i].first) ? std::string("> 1 s") : absl::StrFormat("<= %g ms", after[i].first * 1e3);
    }
  }
  return "n/a";
}

absl::Status BenchFeed(int argc, char** argv) {
  std::string world;
  uint32_t port = 8080;
  double rate = 100, seconds = 20, unknown_share = 0.05;
  int64_t connections = 8, count = 20;
  FlagSet flags("vrec bench feed",
                "Open-loop load on GET /v1/feed of a running `vrec serve` over loopback HTTP: requests at a fixed "
                "rate for known users of --world (and a share of unknown ones); prints p50/p95/p99 latency from each "
                "request's scheduled time, achieved QPS and errors.");
  flags.String("world", &world, "the served world (user ids are drawn from its users)");
  flags.Uint32("port", &port, "the server's port on 127.0.0.1");
  flags.Double("rate", &rate, "requests per second (open loop)");
  flags.Double("seconds", &seconds, "duration");
  flags.Int("connections", &connections, "keep-alive connections (one thread each)");
  flags.Int("count", &count, "items per feed");
  flags.Double("unknown-users", &unknown_share, "share of requests for users the world has never seen");
  bool realtime = true;
  flags.Bool("realtime", &realtime,
             "run the generator's threads at SCHED_FIFO so that waiting for a core the server occupies is not "
             "counted as the server's latency (they use ~2% of a core)");
  flags.Require("world");
  VREC_ASSIGN_OR_RETURN(const bool run, flags.ParseOrPrintHelp(argc, argv, 3));
  if (!run) return absl::OkStatus();
  if (port < 1 || port > 65535 || !(rate > 0) || rate > 1e6 || !(seconds > 0) || seconds > 3600 || connections < 1 ||
      connections > 1024 || count < 1 || unknown_share < 0 || unknown_share > 1) {
    return absl::InvalidArgumentError(
        "need --port 1-65535, --rate in (0, 1e6], --seconds in (0, 3600], --connections 1-1024, --count >= 1, "
        "--unknown-users in [0, 1]");
  }
  VREC_ASSIGN_OR_RETURN(const Catalog catalog, ReadCatalog(world));
  if (catalog.users().empty()) return absl::FailedPreconditionError(absl::StrCat(world, " has no users"));
  Connection probe(static_cast<uint16_t>(port));
  {
    std::string body;
    const int status = probe.Get("/readyz", &body);
    if (status != 200) {
      return absl::UnavailableError(absl::StrCat("no ready server on 127.0.0.1:", port, " (/readyz answered ", status,
                                                 "); start `vrec serve --world ", world, " --models ... --port ",
                                                 port, "` first"));
    }
  }
  const int64_t total = static_cast<int64_t>(rate * seconds);
  const double interval_s = 1.0 / rate;
  std::vector<std::vector<double>> latencies(connections);
  std::vector<std::vector<double>> refused(connections);  // 503s (overload), from schedule
  std::atomic<uint64_t> errors{0}, non_200{0}, bytes_total{0};
  const std::vector<std::pair<double, uint64_t>> histogram_before = FeedHistogram(probe);
  const auto start = std::chrono::steady_clock::now() + std::chrono::milliseconds(100);
  std::vector<std::thread> threads;
  std::atomic<int> realtime_threads{0};
  for (int64_t c = 0; c < connections; ++c) {
    threads.emplace_back([&, c] {
      if (realtime) {
        const sched_param param{1};
        if (pthread_setschedparam(pthread_self(), SCHED_FIFO, &param) == 0) ++realtime_threads;
      }
      Connection connection(static_cast<uint16_t>(port));
      Rng rng(SplitMix64(c + 1));
      for (int64_t i = c; i < total; i += connections) {
        const auto scheduled = start + std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                                           std::chrono::duration<double>(i * interval_s));
        std::this_thread::sleep_until(scheduled);
        const UserId user = rng.Bernoulli(unknown_share)
                                ? static_cast<UserId>(4000000000u - rng.UniformInt(1000000))
                                : catalog.users()[rng.UniformInt(catalog.users().size())].id;
        std::string body;
        const int status = connection.Get(absl::StrCat("/v1/feed?user_id=", user, "&count=", count), &body);
        const size_t bytes = body.size();
        if (status < 0) {
          ++errors;
          continue;
        }
        if (status != 200) ++non_200;
        if (status == 503) {
          refused[c].push_back(Seconds(scheduled) * 1e6);
          continue;
        }
        bytes_total += bytes;
        latencies[c].push_back(Seconds(scheduled) * 1e6);
      }
    });
  }
  for (std::thread& t : threads) t.join();
  const double elapsed = Seconds(start);
  const std::vector<std::pair<double, uint64_t>> histogram_after = FeedHistogram(probe);
  std::vector<double> all;
  for (const auto& l : latencies) all.insert(all.end(), l.begin(), l.end());
  std::sort(all.begin(), all.end());
  auto at = [&](double q) { return all.empty() ? 0.0 : all[std::min(all.size() - 1, static_cast<size_t>(q * all.size()))]; };
  std::printf("GET /v1/feed count=%lld on 127.0.0.1:%u: %zu responses in %.1f s = %.1f QPS (target %.0f/s, %lld "
              "connections); latency from schedule p50 %.2f ms, p95 %.2f ms, p99 %.2f ms, max %.2f ms; %llu transport "
              "errors, %llu non-200; mean body %.1f KB\n",
              static_cast<long long>(count), port, all.size(), elapsed, all.size() / elapsed, rate,
              static_cast<long long>(connections), at(0.50) / 1e3, at(0.95) / 1e3, at(0.99) / 1e3,
              all.empty() ? 0.0 : all.back() / 1e3, static_cast<unsigned long long>(errors.load()),
              static_cast<unsigned long long>(non_200.load()),
              all.empty() ? 0.0 : bytes_total.load() / 1024.0 / all.size());
  std::vector<double> shed;
  for (const auto& l : refused) shed.insert(shed.end(), l.begin(), l.end());
  if (!shed.empty()) {
    std::sort(shed.begin(), shed.end());
    auto shed_at = [&](double q) { return shed[std::min(shed.size() - 1, static_cast<size_t>(q * shed.size()))]; };
    std::printf("refused for overload (503): %zu (%.1f%% of answers); their latency from schedule p50 %.2f ms, p99 "
                "%.2f ms; the latencies above are of the other answers\n",
                shed.size(), 100.0 * shed.size() / (shed.size() + all.size()), shed_at(0.5) / 1e3, shed_at(0.99) / 1e3);
  }
  if (realtime && realtime_threads.load() < connections) {
    std::printf("note: SCHED_FIFO was refused for %lld of %lld generator threads (needs root or CAP_SYS_NICE): their "
                "scheduling delays count as latency\n",
                static_cast<long long>(connections - realtime_threads.load()), static_cast<long long>(connections));
  }
  // The server's handler time alone (no queueing before it, no load generator): the gap to the
  // numbers above is time spent waiting for a core the generator shares.
  std::printf("server-side handler time of the same requests (its /metrics histogram): p50 %s, p95 %s, p99 %s\n",
              ServerQuantile(histogram_before, histogram_after, 0.50).c_str(),
              ServerQuantile(histogram_before, histogram_after, 0.95).c_str(),
              ServerQuantile(histogram_before, histogram_after, 0.99).c_str());
  return absl::OkStatus();
}

}  // namespace vrec
