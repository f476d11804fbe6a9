// `vrec replay`: offline evaluation of the recommenders on a world's log.
#include <algorithm>
#include <cstdio>
#include <fstream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "common/clock.h"
#include "common/status.h"
#include "evaluation/replay_run.h"
#include "tools/commands.h"
#include "tools/flags.h"
#include "tools/served_feed.h"

namespace vrec {

absl::Status RunReplay(int argc, char** argv) {
  evaluation::ReplayRunOptions run;
  evaluation::ReplayOptions& options = run.replay;
  std::string world, protocol = "time-split", split_time, json_path, models_dir,
      systems_flag;
  int64_t bundle_version = 0, ease_cap = run.ease_cap;
  std::string impression_log = evaluation::kDefaultImpressionLog;
  uint64_t max_slate_impressions = 200000;
  double new_video_days = 3.0;
  int64_t k = options.k, deep_k = options.deep_k, threads = options.threads;
  double recent_days = 3.0;
  FlagSet flags("vrec replay",
                "Replays a world's log: each system recommends from the past only and is scored "
                "on what users engaged with next.");
  flags.String("world", &world, "world directory");
  flags.String("protocol", &protocol, "time-split, leave-last-out or random (a seeded 75/25 split of each video's users)");
  flags.Int("k", &k, "list length scored (NDCG@k, Recall@k, HR@k, MAP@k)");
  flags.Int("deep-k", &deep_k, "also report Recall at this depth (candidate generation)");
  flags.String("systems", &systems_flag,
               "systems to evaluate, comma-separated (default: every one that can run: random, most-popular, "
               "recent-popular, item-knn, ease, two-tower, full-pipeline, oracle; two-tower and full-pipeline need "
               "--models, the latter a bundle from train-ranker; oracle a synthetic world)");
  flags.String("models", &models_dir, "model bundles: evaluate the two-tower model of the newest one");
  flags.Int("bundle-version", &bundle_version, "with --models: this version instead of the newest");
  flags.String("split-time", &split_time, "time-split: split time (YYYY-MM-DD, RFC 3339 or ms)");
  flags.Double("split-fraction", &options.split_fraction,
               "time-split without --split-time: split this far through the log's time range");
  flags.Double("recent-days", &recent_days, "recent-popular's window before the split, in days");
  flags.Uint32("max-users", &options.max_test_users, "evaluate a deterministic sample of this many test users (0: all)");
  flags.Uint64("seed", &options.seed, "seed for sampling and the random baseline");
  flags.Int("threads", &threads, "worker threads");
  flags.String("impression-log", &impression_log,
               "slate replay also re-ranks the feeds the server logged here (default: WORLD/impressions.jsonl if "
               "it exists; '' for none)");
  flags.Uint64("max-slate-impressions", &max_slate_impressions,
               "slate replay: logged test-period impressions re-ranked, whole slates (0: all)");
  flags.Uint32("new-user-history", &options.new_user_history,
               "slice: users with fewer past engaged videos than this are new users");
  flags.Double("new-video-days", &new_video_days, "slice: videos uploaded this many days before the test time are new");
  std::string server;
  flags.String("server", &server,
               "also score the feeds of a running `vrec serve` at HOST:PORT over HTTP (system served-feed; serve "
               "the replay's past: featurize --as-of T or --hold-out PROTOCOL, serve --read-only --clock world)");
  flags.Double("ease-lambda", &run.ease_lambda, "the ease baseline's L2 regularisation");
  flags.Int("ease-cap", &ease_cap, "the ease baseline covers this many of the most engaged videos (<= 50000)");
  flags.String("json", &json_path, "also write the results as JSON to this file");
  flags.Bool("progress", &options.show_progress, "print progress on stderr");
  flags.Require("world");
  VREC_ASSIGN_OR_RETURN(const bool parsed, flags.ParseOrPrintHelp(argc, argv));
  if (!parsed) return absl::OkStatus();
  VREC_ASSIGN_OR_RETURN(options.protocol, evaluation::ParseReplayProtocol(protocol));
  if (k < 1 || k > 10000) return absl::InvalidArgumentError("--k must be in [1, 10000]");
  if (threads < 1 || threads > 256) return absl::InvalidArgumentError("--threads must be in [1, 256]");
  if (recent_days <= 0) return absl::InvalidArgumentError("--recent-days must be positive");
  if (ease_cap < 1 || ease_cap > 50000 || !(run.ease_lambda > 0)) {
    return absl::InvalidArgumentError("--ease-cap must be in [1, 50000] and --ease-lambda positive");
  }
  if (deep_k < 1 || deep_k > 10000) return absl::InvalidArgumentError("--deep-k must be in [1, 10000]");
  options.k = static_cast<int>(k);
  options.deep_k = static_cast<int>(deep_k);
  run.systems = absl::StrSplit(systems_flag, ',', absl::SkipEmpty());
  options.threads = static_cast<int>(threads);
  options.recent_window_ms = static_cast<TimestampMs>(recent_days * kMsPerDay);
  if (new_video_days <= 0) return absl::InvalidArgumentError("--new-video-days must be positive");
  options.new_video_window_ms = static_cast<TimestampMs>(new_video_days * kMsPerDay);
  if (!split_time.empty()) {
    VREC_ASSIGN_OR_RETURN(options.split_time_ms, ParseTimestamp(split_time));
  }

  run.world = world;
  run.models_dir = models_dir;
  run.bundle_version = bundle_version;
  run.impression_log = impression_log;
  run.max_slate_impressions = max_slate_impressions;
  run.ease_cap = static_cast<int>(ease_cap);
  if (!server.empty()) {
    VREC_ASSIGN_OR_RETURN(std::unique_ptr<evaluation::ReplaySystem> served, MakeServedFeedSystem(server, 200));
    auto shared = std::make_shared<std::unique_ptr<evaluation::ReplaySystem>>(std::move(served));
    run.extra_systems.push_back(
        [shared](const evaluation::ReplayData&) -> absl::StatusOr<std::unique_ptr<evaluation::ReplaySystem>> {
          return std::move(*shared);
        });
  }
  VREC_ASSIGN_OR_RETURN(const evaluation::ReplayReport report, evaluation::EvaluateReplay(run));
  std::printf("%s", report.table.c_str());
  if (!json_path.empty()) {
    std::ofstream out(json_path);
    out << report.json;
    if (!out) return absl::InternalError(absl::StrCat("cannot write ", json_path));
  }
  return absl::OkStatus();
}

}  // namespace vrec
