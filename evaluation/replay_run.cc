#include "evaluation/replay_run.h"

#include <algorithm>
#include <cstdio>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "bundle/bundle.h"
#include "common/json_writer.h"
#include "common/status.h"
#include "common/world.h"
#include "data/impression_log.h"
#include "evaluation/replay_models.h"
#include "training/ranker_trainer.h"

namespace vrec::evaluation {

namespace {

// The item-kNN baseline's neighbours per video: the usual k of the literature's baselines.
constexpr int kItemKnnNeighbours = 100;

// The full pipeline stage by stage: what retrieval found, how the ranker orders logged
// slates, and what the feed scores.
struct PipelineStages {
  bool has_ranker = false;
  int candidates = 0;
  double retrieval_recall = 0;
  bool slates_replayed = false;
  training::SlateReplayResult slates;
  uint64_t served_feeds = 0;
};

absl::Status RunSlateReplay(const std::string& world, const std::string& bundle, const ReplayData& data,
                            std::string impression_log, uint64_t max_impressions, bool show_progress,
                            PipelineStages* stages) {
  training::SlateReplayOptions slate_options;
  slate_options.from_ms = data.split_ms;
  slate_options.max_impressions = max_impressions;
  slate_options.show_progress = show_progress;
  if (impression_log == kDefaultImpressionLog) {
    impression_log = PathExists(world + "/impressions.jsonl") ? world + "/impressions.jsonl" : "";
  }
  if (!impression_log.empty()) {
    VREC_ASSIGN_OR_RETURN(const std::vector<data::ServedFeed> feeds, data::ReadImpressionLog(impression_log));
    stages->served_feeds = feeds.size();
    slate_options.served = data::ServedImpressionEvents(feeds);
  }
  if (show_progress) std::fprintf(stderr, "replay: slate replay of the logged test-period slates\n");
  VREC_ASSIGN_OR_RETURN(stages->slates, training::ReplayRankerOnSlates(world, bundle, slate_options));
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
    const training::RankerEpochMetrics& m = stages.slates.metrics;
    absl::StrAppendFormat(&out,
                          "  ranker     NDCG@10 re-ranking %llu logged slates with engagement: %.4f (the logged "
                          "order: %.4f); %llu impressions (%llu served feeds read); AUC click %.4f, watch50 "
                          "%.4f, like %.4f\n",
                          static_cast<unsigned long long>(stages.slates.slates), m.slate_ndcg,
                          stages.slates.logged_ndcg, static_cast<unsigned long long>(stages.slates.impressions),
                          static_cast<unsigned long long>(stages.served_feeds), m.heads[ranking::kHeadClick].auc,
                          m.heads[ranking::kHeadWatch].auc, m.heads[ranking::kHeadLike].auc);
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
    const training::RankerEpochMetrics& m = stages.slates.metrics;
    w.Key("slates").Uint(stages.slates.slates);
    w.Key("slate_impressions").Uint(stages.slates.impressions);
    w.Key("served_feeds_read").Uint(stages.served_feeds);
    w.Key("ranker_slate_ndcg").Double(m.slate_ndcg);
    w.Key("logged_slate_ndcg").Double(stages.slates.logged_ndcg);
    w.Key("auc").BeginObject();
    for (int h = 0; h < ranking::kEngagementHeads; ++h) w.Key(ranking::RankerHeadName(h)).Double(m.heads[h].auc);
    w.EndObject();
  }
  w.EndObject();
  return w.Release();
}

}  // namespace

absl::Status ValidateReplayRun(const ReplayRunOptions& options) {
  for (const std::string& name : options.systems) {
    if (std::find(std::begin(kReplaySystems), std::end(kReplaySystems), name) == std::end(kReplaySystems)) {
      return absl::InvalidArgumentError(absl::StrCat(
          "unknown system '", name, "' in --systems (known: random, most-popular, recent-popular, item-knn, ease, "
          "two-tower, full-pipeline, oracle)"));
    }
  }
  const bool wants_bundle = std::find(options.systems.begin(), options.systems.end(), "two-tower") !=
                                options.systems.end() ||
                            std::find(options.systems.begin(), options.systems.end(), "full-pipeline") !=
                                options.systems.end();
  if (options.models_dir.empty() && wants_bundle) {
    return absl::InvalidArgumentError("--systems two-tower and full-pipeline need --models DIR (model bundles)");
  }
  return absl::OkStatus();
}

absl::StatusOr<ReplayReport> EvaluateReplay(const ReplayRunOptions& run) {
  VREC_RETURN_IF_ERROR(ValidateReplayRun(run));
  const std::string& world = run.world;
  const ReplayOptions& options = run.replay;
  const std::string& models_dir = run.models_dir;
  int64_t bundle_version = run.bundle_version;
  const bool explicit_systems = !run.systems.empty();
  auto want = [&](absl::string_view name) {
    return !explicit_systems || std::find(run.systems.begin(), run.systems.end(), name) != run.systems.end();
  };
  VREC_ASSIGN_OR_RETURN(WorldManifest manifest, ReadWorldManifest(world));
  VREC_ASSIGN_OR_RETURN(Catalog catalog, ReadCatalog(world));
  VREC_ASSIGN_OR_RETURN(ReplayData data, BuildReplayData(world, catalog, manifest, options));

  std::vector<std::unique_ptr<ReplaySystem>> owned;
  PipelineStages stages;
  if (want("random")) owned.push_back(MakeRandomSystem(data));
  if (want("most-popular")) owned.push_back(MakeMostPopularSystem(data));
  if (want("recent-popular")) owned.push_back(MakeRecentPopularSystem(data));
  retrieval::CollabFitOptions collab;
  collab.ease_lambda = run.ease_lambda;
  collab.ease_cap = run.ease_cap;
  collab.neighbours = kItemKnnNeighbours;
  collab.threads = std::max(1, options.threads);
  collab.show_progress = options.show_progress;
  if (want("item-knn")) {
    VREC_ASSIGN_OR_RETURN(std::unique_ptr<ReplaySystem> system, MakeItemKnnSystem(data, collab));
    owned.push_back(std::move(system));
  }
  if (want("ease")) {
    VREC_ASSIGN_OR_RETURN(std::unique_ptr<ReplaySystem> system, MakeEaseSystem(data, collab));
    owned.push_back(std::move(system));
  }
  if ((want("two-tower") || want("full-pipeline")) && !models_dir.empty()) {
    if (bundle_version == 0) {
      VREC_ASSIGN_OR_RETURN(bundle_version, bundle::LatestBundle(models_dir));
    }
    const std::string bundle = bundle::BundleDir(models_dir, bundle_version);
    if (options.show_progress) std::fprintf(stderr, "replay: two-tower from %s\n", bundle.c_str());
    BundleReplayOptions bundle_options;
    bundle_options.depth = std::max(options.k, options.deep_k);
    bundle_options.full_pipeline = want("full-pipeline");
    bundle_options.show_progress = options.show_progress;
    bundle_options.threads = options.threads;
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
        VREC_RETURN_IF_ERROR(RunSlateReplay(world, bundle, data, run.impression_log, run.max_slate_impressions,
                                            options.show_progress, &stages));
      }
    }
  }
  for (const auto& make : run.extra_systems) {
    VREC_ASSIGN_OR_RETURN(std::unique_ptr<ReplaySystem> system, make(data));
    owned.push_back(std::move(system));
  }
  if (want("oracle") && PathExists(WorldTruthPath(world))) {
    VREC_ASSIGN_OR_RETURN(data::SyntheticTruth truth, data::ReadSyntheticTruth(WorldTruthPath(world)));
    VREC_ASSIGN_OR_RETURN(std::unique_ptr<ReplaySystem> oracle,
                          MakeOracleSystem(data, catalog, std::move(truth)));
    owned.push_back(std::move(oracle));
  }
  std::vector<const ReplaySystem*> systems;
  for (const auto& r : owned) systems.push_back(r.get());
  const std::vector<SystemResult> results = EvaluateSystems(data, systems, options);
  ReplayReport report;
  report.table = FormatReplayTable(data, results, options);
  if (stages.has_ranker) report.table += FormatStages(stages, results, options);
  report.json = ReplayJson(world, data, results, options);
  if (stages.has_ranker) {  // spliced in as the document's last key
    report.json.resize(report.json.rfind('}'));
    report.json += ",\"full_pipeline_stages\":" + StagesJson(stages) + "}\n";
  }
  return report;
}

}  // namespace vrec::evaluation
