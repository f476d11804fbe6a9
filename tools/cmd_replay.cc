// `vrec replay`: offline evaluation of the recommenders on a world's log.
#include <algorithm>
#include <cstdio>
#include <fstream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "retrieval/bundle.h"
#include "common/clock.h"
#include "common/json_writer.h"
#include "common/status.h"
#include "common/world.h"
#include "tools/commands.h"
#include "tools/flags.h"
#include "evaluation/replay.h"
#include "evaluation/replay_models.h"
#include "serving/impression_log.h"
#include "training/ranker_trainer.h"

namespace vrec {

namespace {

// The full pipeline stage by stage: what retrieval found, how the ranker orders logged
// slates, and what the feed scores.
struct PipelineStages {
  bool has_ranker = false;
  int candidates = 0;
  double retrieval_recall = 0;
  bool slates_replayed = false;
  SlateReplayResult slates;
  uint64_t served_feeds = 0;
  std::string slate_note;  // why slate replay did not run
};

absl::Status RunSlateReplay(const std::string& world, const std::string& bundle, const ReplayData& data,
                            std::string impression_log, uint64_t max_impressions, bool show_progress,
                            PipelineStages* stages) {
  SlateReplayOptions slate_options;
  slate_options.from_ms = data.split_ms;
  slate_options.max_impressions = max_impressions;
  slate_options.show_progress = show_progress;
  if (impression_log == "-") {
    impression_log = PathExists(world + "/impressions.jsonl") ? world + "/impressions.jsonl" : "";
  }
  if (!impression_log.empty()) {
    VREC_ASSIGN_OR_RETURN(const std::vector<ServedFeed> feeds, ReadImpressionLog(impression_log));
    stages->served_feeds = feeds.size();
    slate_options.served = ServedImpressionEvents(feeds);
  }
  if (show_progress) std::fprintf(stderr, "replay: slate replay of the logged test-period slates\n");
  VREC_ASSIGN_OR_RETURN(stages->slates, ReplayRankerOnSlates(world, bundle, slate_options));
  stages->slates_replayed = true;
  return absl::OkStatus();
}

std::string FormatStages(const PipelineStages& stages, const std::vector<SystemResult>& results,
                         const ReplayOptions& options) {
  std::string out = "\nfull pipeline by stage:\n";
  absl::StrAppendFormat(&out, "  retrieval  recall@%d of the engaged test videos among the candidates: %.4f\n",
                        stages.candidates, stages.retrieval_recall);
  if (!stages.slates_replayed) {
    absl::StrAppendFormat(&out, "  ranker     slate replay: not run (%s)\n",
                          options.protocol == ReplayProtocol::kTimeSplit ? "no logged slates"
                                                                        : "leave-last-out logs have no slates");
  } else if (stages.slates.slates == 0) {
    absl::StrAppendFormat(&out, "  ranker     slate replay: no logged test-period slate with engagement (%llu "
                                "impressions, %llu served feeds read)\n",
                          static_cast<unsigned long long>(stages.slates.impressions),
                          static_cast<unsigned long long>(stages.served_feeds));
  } else {
    const RankerEpochMetrics& m = stages.slates.metrics;
    absl::StrAppendFormat(&out,
                          "  ranker     NDCG@10 re-ranking %llu logged slates with engagement: %.4f (the logged "
                          "order: %.4f); %llu impressions (%llu served feeds read); AUC click %.4f, watch50 "
                          "%.4f, like %.4f\n",
                          static_cast<unsigned long long>(stages.slates.slates), m.slate_ndcg,
                          stages.slates.logged_ndcg, static_cast<unsigned long long>(stages.slates.impressions),
                          static_cast<unsigned long long>(stages.served_feeds), m.heads[kHeadClick].auc,
                          m.heads[kHeadWatch].auc, m.heads[kHeadLike].auc);
  }
  for (const SystemResult& r : results) {
    if (r.name == "full-pipeline") {
      absl::StrAppendFormat(&out, "  feed       NDCG@%d %.4f, Recall@%d %.4f\n", options.k, r.metrics.ndcg,
                            options.deep_k, r.recall_deep);
    }
  }
  return out;
}

std::string StagesJson(const PipelineStages& stages) {
  JsonWriter w;
  w.BeginObject();
  w.Key("retrieval_candidates").Int(stages.candidates);
  w.Key("retrieval_recall").Double(stages.retrieval_recall);
  if (stages.slates_replayed) {
    const RankerEpochMetrics& m = stages.slates.metrics;
    w.Key("slates").Uint(stages.slates.slates);
    w.Key("slate_impressions").Uint(stages.slates.impressions);
    w.Key("served_feeds_read").Uint(stages.served_feeds);
    w.Key("ranker_slate_ndcg").Double(m.slate_ndcg);
    w.Key("logged_slate_ndcg").Double(stages.slates.logged_ndcg);
    w.Key("auc").BeginObject();
    for (int h = 0; h < kEngagementHeads; ++h) w.Key(RankerHeadName(h)).Double(m.heads[h].auc);
    w.EndObject();
  }
  w.EndObject();
  return w.Release();
}

}  // namespace

constexpr const char* kDefaultSystems = "random,most-popular,recent-popular,item-knn,two-tower,full-pipeline,oracle";

absl::Status RunReplay(int argc, char** argv) {
  ReplayOptions options;
  std::string world, protocol = "time-split", split_time, json_path, models_dir,
      systems_flag = kDefaultSystems;
  int64_t bundle_version = 0;
  std::string impression_log = "-";
  uint64_t max_slate_impressions = 200000;
  double new_video_days = 3.0;
  int64_t k = options.k, deep_k = options.deep_k, threads = options.threads;
  double recent_days = 3.0;
  FlagSet flags("vrec replay",
                "Replays a world's log: each system recommends from the past only and is scored "
                "on what users engaged with next.");
  flags.String("world", &world, "world directory");
  flags.String("protocol", &protocol, "time-split or leave-last-out");
  flags.Int("k", &k, "list length scored (NDCG@k, Recall@k, HR@k, MAP@k)");
  flags.Int("deep-k", &deep_k, "also report Recall at this depth (candidate generation)");
  flags.String("systems", &systems_flag,
               "systems to evaluate, comma-separated (two-tower and full-pipeline need --models, the latter a bundle from train-ranker; oracle a synthetic world)");
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
  flags.String("json", &json_path, "also write the results as JSON to this file");
  flags.Bool("progress", &options.show_progress, "print progress on stderr");
  flags.Require("world");
  VREC_ASSIGN_OR_RETURN(const bool run, flags.ParseOrPrintHelp(argc, argv));
  if (!run) return absl::OkStatus();
  VREC_ASSIGN_OR_RETURN(options.protocol, ParseReplayProtocol(protocol));
  if (k < 1 || k > 10000) return absl::InvalidArgumentError("--k must be in [1, 10000]");
  if (threads < 1 || threads > 256) return absl::InvalidArgumentError("--threads must be in [1, 256]");
  if (recent_days <= 0) return absl::InvalidArgumentError("--recent-days must be positive");
  if (deep_k < 1 || deep_k > 10000) return absl::InvalidArgumentError("--deep-k must be in [1, 10000]");
  options.k = static_cast<int>(k);
  options.deep_k = static_cast<int>(deep_k);
  std::vector<std::string> wanted = absl::StrSplit(systems_flag, ',', absl::SkipEmpty());
  for (const std::string& name : wanted) {
    if (name != "random" && name != "most-popular" && name != "recent-popular" && name != "item-knn" &&
        name != "two-tower" && name != "full-pipeline" && name != "oracle") {
      return absl::InvalidArgumentError(absl::StrCat(
          "unknown system '", name, "' in --systems (known: random, most-popular, recent-popular, item-knn, "
          "two-tower, full-pipeline, oracle)"));
    }
  }
  auto want = [&](absl::string_view name) { return std::find(wanted.begin(), wanted.end(), name) != wanted.end(); };
  // The default list skips what cannot run here; systems named explicitly must run.
  const bool explicit_systems = systems_flag != kDefaultSystems;
  if (explicit_systems && models_dir.empty() && (want("two-tower") || want("full-pipeline"))) {
    return absl::InvalidArgumentError("--systems two-tower and full-pipeline need --models DIR (model bundles)");
  }
  options.threads = static_cast<int>(threads);
  options.recent_window_ms = static_cast<TimestampMs>(recent_days * kMsPerDay);
  if (new_video_days <= 0) return absl::InvalidArgumentError("--new-video-days must be positive");
  options.new_video_window_ms = static_cast<TimestampMs>(new_video_days * kMsPerDay);
  if (!split_time.empty()) {
    VREC_ASSIGN_OR_RETURN(options.split_time_ms, ParseTimestamp(split_time));
  }

  VREC_ASSIGN_OR_RETURN(WorldManifest manifest, ReadWorldManifest(world));
  VREC_ASSIGN_OR_RETURN(Catalog catalog, ReadCatalog(world));
  VREC_ASSIGN_OR_RETURN(ReplayData data, BuildReplayData(world, catalog, manifest, options));

  std::vector<std::unique_ptr<ReplaySystem>> owned;
  PipelineStages stages;
  if (want("random")) owned.push_back(MakeRandomSystem(data));
  if (want("most-popular")) owned.push_back(MakeMostPopularSystem(data));
  if (want("recent-popular")) owned.push_back(MakeRecentPopularSystem(data));
  if (want("item-knn")) owned.push_back(MakeItemKnnSystem(data, ItemKnnOptions()));
  if ((want("two-tower") || want("full-pipeline")) && !models_dir.empty()) {
    if (bundle_version == 0) {
      VREC_ASSIGN_OR_RETURN(bundle_version, LatestBundle(models_dir));
    }
    const std::string bundle = BundleDir(models_dir, bundle_version);
    if (options.show_progress) std::fprintf(stderr, "replay: two-tower from %s\n", bundle.c_str());
    BundleReplayOptions bundle_options;
    bundle_options.depth = std::max(options.k, options.deep_k);
    bundle_options.full_pipeline = want("full-pipeline");
    bundle_options.show_progress = options.show_progress;
    VREC_ASSIGN_OR_RETURN(BundleSystems systems,
                          MakeBundleSystems(data, world, catalog, bundle, bundle_options));
    if (want("two-tower")) owned.push_back(std::move(systems.two_tower));
    if (want("full-pipeline") && systems.full_pipeline == nullptr) {
      if (explicit_systems) {
        return absl::FailedPreconditionError(absl::StrCat(
            "--systems full-pipeline needs a bundle with a ranker; ", bundle, " has none (run vrec train-ranker)"));
      }
      std::fprintf(stderr, "replay: no full-pipeline: %s has no ranker (run vrec train-ranker)\n", bundle.c_str());
    }
    if (systems.full_pipeline != nullptr) {
      owned.push_back(std::move(systems.full_pipeline));
      stages.has_ranker = true;
      stages.candidates = systems.candidates_per_user;
      stages.retrieval_recall = systems.retrieval_recall;
      if (options.protocol == ReplayProtocol::kTimeSplit) {
        VREC_RETURN_IF_ERROR(RunSlateReplay(world, bundle, data, impression_log, max_slate_impressions,
                                            options.show_progress, &stages));
      }
    }
  }
  if (want("oracle") && PathExists(WorldTruthPath(world))) {
    VREC_ASSIGN_OR_RETURN(SyntheticTruth truth, ReadSyntheticTruth(WorldTruthPath(world)));
    VREC_ASSIGN_OR_RETURN(std::unique_ptr<ReplaySystem> oracle,
                          MakeOracleSystem(data, catalog, std::move(truth)));
    owned.push_back(std::move(oracle));
  }
  std::vector<const ReplaySystem*> systems;
  for (const auto& r : owned) systems.push_back(r.get());
  const std::vector<SystemResult> results = EvaluateSystems(data, systems, options);
  std::printf("%s", FormatReplayTable(data, results, options).c_str());
  if (stages.has_ranker) std::printf("%s", FormatStages(stages, results, options).c_str());
  if (!json_path.empty()) {
    std::ofstream out(json_path);
    std::string json = ReplayJson(world, data, results, options);
    if (stages.has_ranker) {  // spliced in as the document's last key
      json.resize(json.rfind('}'));
      json += ",\"full_pipeline_stages\":" + StagesJson(stages) + "}\n";
    }
    out << json;
    if (!out) return absl::InternalError(absl::StrCat("cannot write ", json_path));
  }
  return absl::OkStatus();
}

}  // namespace vrec
