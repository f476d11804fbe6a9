// `vrec bench <what>`: benchmarks that print their numbers. Tests never assert speed; these do
// the measuring.
#include <unistd.h>

#include <chrono>
#include <cstdio>

#include "absl/strings/str_cat.h"
#include "common/event_log.h"
#include "common/random.h"
#include "common/status.h"
#include "common/world.h"
#include "tools/commands.h"
#include "tools/flags.h"

namespace vrec {
namespace {

double Seconds(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

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

}  // namespace

absl::Status RunBench(int argc, char** argv) {
  const std::string what = argc >= 3 ? argv[2] : "";
  if (what == "events") return BenchEvents(argc, argv);
  return absl::InvalidArgumentError(absl::StrCat(
      what.empty() ? "missing benchmark name" : absl::StrCat("unknown benchmark '", what, "'"),
      "; usage: vrec bench events [--help]"));
}

}  // namespace vrec
