// `vrec bench <what>`: benchmarks that print their numbers. Tests never assert speed; these do
// the measuring.
#include <unistd.h>

#include <chrono>
#include <cstdio>

#include <algorithm>
#include <filesystem>

#include "absl/strings/str_cat.h"
#include "common/event_log.h"
#include "common/progress.h"
#include "featurestore/feature_replay.h"
#include "featurestore/feature_store.h"
#include "common/random.h"
#include "common/status.h"
#include "common/world.h"
#include "tools/bench_util.h"
#include "tools/commands.h"
#include "tools/flags.h"

namespace vrec {
namespace {

// Streams the whole log once; returns events read and a checksum that depends on every field
// so the work cannot be optimised away.
absl::StatusOr<std::pair<uint64_t, uint64_t>> ReadOnce(const std::string& path) {
  uint64_t count = 0, checksum = 0;
  VREC_RETURN_IF_ERROR(ForEachEventBlock(path, [&](absl::Span<const Event> block) {
    for (const Event& e : block) {
      checksum += static_cast<uint64_t>(e.timestamp_ms) ^ e.user_id ^ (uint64_t{e.video_id} << 20) ^
                  static_cast<uint64_t>(e.type) ^ e.watch_time_ms;
    }
    count += block.size();
    return absl::OkStatus();
  }));
  return std::make_pair(count, checksum);
}

absl::Status BenchEvents(int argc, char** argv) {
  std::string world, scratch = "/tmp";
  uint64_t events = 20000000;
  uint32_t repeat = 3;
  FlagSet flags("vrec bench events",
                "Event-log throughput on one core: write rate of a fresh log, then read rate "
                "(page cache warm) of --world's log or of that fresh log.");
  flags.String("world", &world, "read this world's log instead of a generated one");
  flags.Uint64("events", &events, "events in the generated log");
  flags.Uint32("repeat", &repeat, "read passes; the best is reported");
  flags.String("scratch", &scratch, "directory for the generated log (deleted afterwards)");
  VREC_ASSIGN_OR_RETURN(const bool run, flags.ParseOrPrintHelp(argc, argv, 3));
  if (!run) return absl::OkStatus();
  if (repeat < 1) return absl::InvalidArgumentError("--repeat must be at least 1");
  std::string path;
  if (!world.empty()) {
    VREC_RETURN_IF_ERROR(ReadWorldManifest(world).status());
    path = WorldEventsPath(world);
  } else {
    if (events == 0) return absl::InvalidArgumentError("--events must be positive");
    path = absl::StrCat(scratch, "/vrec_bench_", ::getpid(), ".log");
    Rng rng(1);
    std::vector<Event> batch(1 << 16);
    const auto start = std::chrono::steady_clock::now();
    {
      VREC_ASSIGN_OR_RETURN(std::unique_ptr<EventLogWriter> writer, EventLogWriter::Open(path));
      for (uint64_t done = 0; done < events;) {
        const size_t n = std::min<uint64_t>(batch.size(), events - done);
        for (size_t i = 0; i < n; ++i) {
          Event& e = batch[i];
          e.timestamp_ms = static_cast<TimestampMs>(done + i);
          e.user_id = static_cast<UserId>(rng.UniformInt(1000000));
          e.video_id = static_cast<VideoId>(rng.UniformInt(1000000));
          e.type = static_cast<EventType>(rng.UniformInt(kNumEventTypes));
        }
        VREC_RETURN_IF_ERROR(writer->AppendBatch(absl::MakeConstSpan(batch.data(), n)));
        VREC_RETURN_IF_ERROR(writer->Flush());
        done += n;
      }
      VREC_RETURN_IF_ERROR(writer->Sync());
    }
    const double s = Seconds(start);
    std::printf("write: %llu events in %.2f s = %.1fM events/s (%.0f MB/s, synced at the end)\n",
                static_cast<unsigned long long>(events), s, events / s / 1e6, events * 32.0 / s / 1e6);
  }
  double best = 1e30;
  uint64_t count = 0, checksum = 0;
  for (uint32_t r = 0; r < repeat; ++r) {
    const auto start = std::chrono::steady_clock::now();
    VREC_ASSIGN_OR_RETURN(auto result, ReadOnce(path));
    best = std::min(best, Seconds(start));
    std::tie(count, checksum) = result;
  }
  std::printf("read:  %llu events in %.3f s = %.1fM events/s (%.0f MB/s, CRC-checked, best of %u; checksum %llx)\n",
              static_cast<unsigned long long>(count), best, count / best / 1e6, count * 32.0 / best / 1e6,
              repeat, static_cast<unsigned long long>(checksum));
  if (world.empty()) std::remove(path.c_str());
  return absl::OkStatus();
}

absl::Status BenchFeatureStore(int argc, char** argv) {
  std::string world, store_dir;
  uint32_t requests = 2000, candidates = 500;
  uint64_t cache_mb = 1024;
  FlagSet flags("vrec bench featurestore",
                "Feature-store read latency with a warm cache: GetUser and a --candidates-video MultiGet "
                "(single thread). Without --store, first featurizes --world into a scratch store and reports "
                "the featurize rate.");
  flags.String("world", &world, "world directory (for user ids; featurized when --store is absent)");
  flags.String("store", &store_dir, "an existing feature store to read");
  flags.Uint32("requests", &requests, "timed requests of each kind");
  flags.Uint32("candidates", &candidates, "videos per MultiGet");
  flags.Uint64("block-cache-mb", &cache_mb, "RocksDB block cache size in MiB");
  flags.Require("world");
  VREC_ASSIGN_OR_RETURN(const bool run, flags.ParseOrPrintHelp(argc, argv, 3));
  if (!run) return absl::OkStatus();
  if (requests == 0 || candidates == 0) return absl::InvalidArgumentError("--requests and --candidates must be positive");
  VREC_ASSIGN_OR_RETURN(WorldManifest manifest, ReadWorldManifest(world));
  featurestore::FeatureStoreOptions store_options;
  store_options.block_cache_bytes = cache_mb << 20;
  const bool scratch = store_dir.empty();
  if (scratch) {
    store_dir = absl::StrCat(world, "/features.bench.", ::getpid());
    featurestore::FeaturizeOptions options;
    options.store = store_options;
    options.show_progress = false;
    Progress timer("featurize", 0, "", false);
    VREC_ASSIGN_OR_RETURN(featurestore::FeaturizeSummary s, featurestore::Featurize(world, store_dir, options));
    std::printf("featurize: %llu events, %llu users, %llu videos: replay %.2f s (%.2fM events/s), write %.2f s, total %.2f s\n",
                static_cast<unsigned long long>(s.events_applied), static_cast<unsigned long long>(s.users),
                static_cast<unsigned long long>(s.videos), s.replay_seconds, s.events_applied / s.replay_seconds / 1e6,
                s.write_seconds, timer.ElapsedSeconds());
  }
  VREC_ASSIGN_OR_RETURN(std::unique_ptr<featurestore::FeatureStore> store,
                        featurestore::FeatureStore::Open(store_dir, store_options));
  std::vector<VideoId> videos;
  VREC_RETURN_IF_ERROR(store->ForEachVideo([&](const featurestore::VideoFeatures& v) {
    videos.push_back(v.id);
    return absl::OkStatus();
  }));
  if (videos.empty() || manifest.num_users == 0) return absl::FailedPreconditionError("the store is empty");
  const TimestampMs now = store->as_of_ms();
  Rng rng(7);
  std::vector<featurestore::VideoRead> reads;
  // Warm the cache: every video once, and a first pass of user reads.
  for (size_t i = 0; i < videos.size(); i += 1000) {
    const size_t n = std::min<size_t>(1000, videos.size() - i);
    VREC_RETURN_IF_ERROR(store->GetVideos(absl::MakeConstSpan(videos.data() + i, n), now, &reads));
  }
  for (uint32_t i = 0; i < requests; ++i) {
    VREC_RETURN_IF_ERROR(store->GetUser(static_cast<UserId>(rng.UniformInt(manifest.num_users)), now).status());
  }
  std::vector<double> user_us, multiget_us;
  uint64_t found_history = 0;
  for (uint32_t i = 0; i < requests; ++i) {
    const UserId u = static_cast<UserId>(rng.UniformInt(manifest.num_users));
    const auto start = std::chrono::steady_clock::now();
    VREC_ASSIGN_OR_RETURN(featurestore::UserRead read, store->GetUser(u, now));
    user_us.push_back(Seconds(start) * 1e6);
    found_history += read.history != featurestore::FeatureStatus::kMissing;
  }
  std::vector<VideoId> batch(candidates);
  for (uint32_t i = 0; i < requests; ++i) {
    for (VideoId& v : batch) v = videos[rng.UniformInt(videos.size())];
    const auto start = std::chrono::steady_clock::now();
    VREC_RETURN_IF_ERROR(store->GetVideos(batch, now, &reads));
    multiget_us.push_back(Seconds(start) * 1e6);
  }
  const Percentiles u = Summarize(user_us), m = Summarize(multiget_us);
  std::printf("store: %s, %zu videos, %llu users\n", store_dir.c_str(), videos.size(),
              static_cast<unsigned long long>(manifest.num_users));
  std::printf("GetUser:            p50 %7.1f us  p99 %7.1f us  mean %7.1f us  (%u requests, %.0f%% with history)\n",
              u.p50_us, u.p99_us, u.mean_us, requests, 100.0 * found_history / requests);
  std::printf("GetVideos(%u): p50 %7.1f us  p99 %7.1f us  mean %7.1f us  (%.2f us per video, RocksDB MultiGet "
              "and decode)\n",
              candidates, m.p50_us, m.p99_us, m.mean_us, m.p50_us / candidates);
  // The serving configuration: decoded videos held in memory, written through.
  store.reset();
  store_options.cache_videos = true;
  const auto open_start = std::chrono::steady_clock::now();
  VREC_ASSIGN_OR_RETURN(store, featurestore::FeatureStore::Open(store_dir, store_options));
  const double open_seconds = Seconds(open_start);
  multiget_us.clear();
  for (uint32_t i = 0; i < requests; ++i) {
    for (VideoId& v : batch) v = videos[rng.UniformInt(videos.size())];
    const auto start = std::chrono::steady_clock::now();
    VREC_RETURN_IF_ERROR(store->GetVideos(batch, now, &reads));
    multiget_us.push_back(Seconds(start) * 1e6);
  }
  const Percentiles c = Summarize(multiget_us);
  std::printf("GetVideos(%u): p50 %7.1f us  p99 %7.1f us  mean %7.1f us  (%.2f us per video, in-memory video cache "
              "as `vrec serve` runs; loaded in %.1f s)\n",
              candidates, c.p50_us, c.p99_us, c.mean_us, c.p50_us / candidates, open_seconds);
  store.reset();
  if (scratch) std::filesystem::remove_all(store_dir);
  return absl::OkStatus();
}

}  // namespace

absl::Status RunBench(int argc, char** argv) {
  const std::string what = argc >= 3 ? argv[2] : "";
  if (what == "events") return BenchEvents(argc, argv);
  if (what == "featurestore") return BenchFeatureStore(argc, argv);
  if (what == "retrieval") return BenchRetrieval(argc, argv);
  if (what == "ranking") return BenchRanking(argc, argv);
  if (what == "feed") return BenchFeed(argc, argv);
  return absl::InvalidArgumentError(absl::StrCat(
      what.empty() ? "missing benchmark name" : absl::StrCat("unknown benchmark '", what, "'"),
      "; usage: vrec bench events|featurestore|retrieval|ranking|feed [--help]"));
}

}  // namespace vrec
