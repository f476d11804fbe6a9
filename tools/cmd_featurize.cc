// `vrec featurize`: builds a world's feature store from its event log.
#include <cstdio>

#include <memory>

#include "absl/strings/str_cat.h"
#include "common/clock.h"
#include "common/leave_last_out.h"
#include "common/progress.h"
#include "common/status.h"
#include "featurestore/feature_replay.h"
#include "tools/commands.h"
#include "tools/flags.h"

namespace vrec {

std::string DefaultStoreDir(const std::string& world) { return world + "/features"; }

absl::Status RunFeaturize(int argc, char** argv) {
  featurestore::FeaturizeOptions options;
  std::string world, store, as_of;
  uint64_t cache_mb = options.store.block_cache_bytes >> 20;
  FlagSet flags("vrec featurize",
                "Builds the feature store (RocksDB) from a world's event log in one streaming pass.");
  flags.String("world", &world, "world directory");
  flags.String("store", &store, "feature store directory (default: WORLD/features)");
  flags.String("as-of", &as_of, "only events before this time (YYYY-MM-DD, RFC 3339 or ms)");
  std::string hold_out;
  flags.String("hold-out", &hold_out,
               "leave-last-out or random: leave out that replay protocol's test items (to serve the past of a "
               "held-out replay and score it with `vrec replay --server`)");
  flags.Uint32("history-length", &options.update.history_length, "videos kept per user history");
  flags.String("compression", &options.store.compression, "none, snappy, lz4 or zstd");
  flags.Uint64("block-cache-mb", &cache_mb, "RocksDB block cache size in MiB");
  flags.Bool("progress", &options.show_progress, "print progress on stderr");
  flags.Require("world");
  VREC_ASSIGN_OR_RETURN(const bool run, flags.ParseOrPrintHelp(argc, argv));
  if (!run) return absl::OkStatus();
  if (store.empty()) store = DefaultStoreDir(world);
  if (!as_of.empty()) {
    VREC_ASSIGN_OR_RETURN(options.as_of_ms, ParseTimestamp(as_of));
  }
  options.store.block_cache_bytes = cache_mb << 20;
  std::shared_ptr<const HeldOutItems> held;
  if (!hold_out.empty()) {
    VREC_ASSIGN_OR_RETURN(const std::vector<Engagement> rows, ReadEngagementsByUser(WorldEventsPath(world)));
    VREC_ASSIGN_OR_RETURN(HeldOutItems items, SplitHeldOut(hold_out, rows));
    held = std::make_shared<const HeldOutItems>(std::move(items));
    options.keep = [held](const Event& e) { return !held->IsTest(e.user_id, e.video_id); };
  }
  Progress timer("featurize", 0, "", false);
  VREC_ASSIGN_OR_RETURN(featurestore::FeaturizeSummary s, featurestore::Featurize(world, store, options));
  const double total = timer.ElapsedSeconds();
  std::printf(
      "featurized %s into %s: %llu events (as of %s) at %.2fM events/s, %llu users, %llu videos; "
      "replay %.1f s, write %.1f s, total %.1f s\n",
      world.c_str(), store.c_str(), static_cast<unsigned long long>(s.events_applied),
      s.as_of_ms > 0 ? FormatTimestamp(s.as_of_ms).c_str() : "-",
      s.replay_seconds > 0 ? s.events_applied / s.replay_seconds / 1e6 : 0.0,
      static_cast<unsigned long long>(s.users), static_cast<unsigned long long>(s.videos), s.replay_seconds,
      s.write_seconds, total);
  return absl::OkStatus();
}

}  // namespace vrec
