#include "training/fusion_trainer.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "bundle/bundle.h"
#include "common/leave_last_out.h"
#include "common/random.h"
#include "common/status.h"
#include "common/world.h"
#include "pipeline/point_in_time.h"
#include "ranking/fusion.h"
#include "retrieval/collaborative_fit.h"
#include "retrieval/two_tower.h"

namespace vrec::training {
namespace {

// One feed request of a user with held-out engagements; each engagement is one query.
struct HeldOut {
  UserId user = 0;
  TimestampMs time = 0;
  std::vector<VideoId> targets;  // distinct
};

// Where one target landed in its request's candidates, for every order the feed could use.
struct QueryRanks {
  int target = -1;                                   // candidate index, -1 if not retrieved
  uint32_t ranker = 0;                               // 1-based rank by ranker score (0: none)
  std::array<uint16_t, retrieval::kNumSources> source{};  // the target's rank in each source (0: absent)
};

struct RequestResult {
  bool validation = false;
  std::vector<QueryRanks> queries;  // one per target
  std::vector<float> rows;          // FusionInputs of the candidates (when a target was retrieved)
  size_t candidates = 0;
};

double Gain(uint32_t rank) { return rank >= 1 && rank <= 10 ? 1.0 / std::log2(1.0 + rank) : 0.0; }

// The 1-based rank of scores[i] among all of them but the rows in `skip` (the request's other
// engaged videos), best first, ties to the lower index (the order FusionInputs ranks the
// ranker's scores in).
uint32_t RankOf(absl::Span<const float> scores, size_t i, absl::Span<const uint32_t> skip = {}) {
  uint32_t rank = 1;
  for (size_t j = 0; j < scores.size(); ++j) rank += scores[j] > scores[i] || (scores[j] == scores[i] && j < i);
  for (const uint32_t j : skip) rank -= scores[j] > scores[i] || (scores[j] == scores[i] && j < i);
  return rank;
}

// The rows of `targets` other than `t`: the request's other engaged videos, which a target's
// ranks leave out.
void OtherTargets(absl::Span<const uint32_t> targets, uint32_t t, std::vector<uint32_t>* out) {
  out->clear();
  for (const uint32_t o : targets) {
    if (o != t) out->push_back(o);
  }
}

// The held-out engagements and the events before them, per the bundle's protocol.
struct Split {
  std::vector<HeldOut> queries;
  std::function<bool(const Event&)> in_past;
  TimestampMs as_of_ms = 0;  // the view's time
  std::vector<Engagement> past;
};

absl::StatusOr<Split> MakeSplit(const std::string& world_dir, const bundle::BundleManifest& m) {
  Split split;
  VREC_ASSIGN_OR_RETURN(std::vector<Engagement> rows, ReadEngagementsByUser(WorldEventsPath(world_dir)));
  if (m.protocol != "time-split") {
    VREC_ASSIGN_OR_RETURN(HeldOutItems split_items, SplitHeldOut(m.protocol, rows));
    auto held = std::make_shared<HeldOutItems>(std::move(split_items));
    auto is_validation = [held](UserId u, VideoId v) { return held->IsValidation(u, v); };
    TimestampMs last = 0;
    for (const Engagement& e : rows) {
      last = std::max(last, e.time);
      if (held->IsTest(e.user, e.video)) continue;
      if (!is_validation(e.user, e.video)) {
        split.past.push_back(e);
        continue;
      }
      if (split.queries.empty() || split.queries.back().user != e.user) split.queries.push_back({e.user, e.time, {}});
      std::vector<VideoId>& targets = split.queries.back().targets;
      if (std::find(targets.begin(), targets.end(), e.video) == targets.end()) targets.push_back(e.video);
    }
    split.as_of_ms = last + 1;
    // Random splits have no order: every query is asked as of the end, as the replay asks.
    if (held->random) {
      for (HeldOut& q : split.queries) q.time = split.as_of_ms;
    }
    split.in_past = [held, is_validation](const Event& e) {
      return !held->IsTest(e.user_id, e.video_id) && !is_validation(e.user_id, e.video_id);
    };
    return split;
  }
  const TimestampMs cut = m.ranker->validation_from_ms, end = m.ranker->train_end_ms;
  if (cut <= 0 || end <= cut) return absl::FailedPreconditionError("the ranker has no validation window");
  split.as_of_ms = cut;
  split.in_past = [cut](const Event& e) { return e.timestamp_ms < cut; };
  ForEachUserRun(rows, [&](UserId user, auto begin, auto stop) {
    absl::flat_hash_map<VideoId, bool> before;
    for (auto it = begin; it != stop && it->time < cut; ++it) before[it->video] = true;
    HeldOut request{user, cut, {}};
    for (auto it = begin; it != stop; ++it) {
      if (it->time < cut) {
        split.past.push_back(*it);
      } else if (it->time < end && before.emplace(it->video, true).second) {
        request.targets.push_back(it->video);
      }
    }
    if (!request.targets.empty()) split.queries.push_back(std::move(request));
  });
  return split;
}

}  // namespace

absl::StatusOr<bundle::FusionInfo> TrainFusion(const std::string& world_dir, const std::string& bundle_dir,
                                               const FusionTrainOptions& o) {
  if (o.max_queries < 10 || !(o.validation_share > 0 && o.validation_share < 1) || o.epochs < 1 ||
      o.batch_queries < 1 || o.threads < 1) {
    return absl::InvalidArgumentError("fusion: need max_queries >= 10, validation_share in (0, 1), epochs >= 1");
  }
  const auto start = std::chrono::steady_clock::now();
  VREC_ASSIGN_OR_RETURN(bundle::BundleManifest manifest, bundle::ReadBundleManifest(bundle_dir));
  if (!manifest.ranker.has_value()) {
    return absl::FailedPreconditionError(absl::StrCat("bundle ", bundle_dir, " has no ranker to fuse"));
  }
  VREC_ASSIGN_OR_RETURN(std::shared_ptr<const retrieval::TwoTowerModel> two_tower,
                        bundle::LoadBundleTwoTower(bundle_dir, manifest, bundle::TwoTowerWeights::kHeldOut));
  VREC_ASSIGN_OR_RETURN(std::shared_ptr<const ranking::RankerModel> ranker,
                        bundle::LoadBundleRanker(bundle_dir, manifest));
  VREC_ASSIGN_OR_RETURN(const Catalog catalog, ReadCatalog(world_dir));
  VREC_ASSIGN_OR_RETURN(Split split, MakeSplit(world_dir, manifest));
  Rng rng(o.seed);
  for (size_t i = split.queries.size(); i > 1; --i) std::swap(split.queries[i - 1], split.queries[rng.UniformInt(i)]);
  if (split.queries.size() > o.max_queries) split.queries.resize(o.max_queries);
  if (split.queries.size() < 10) {
    return absl::FailedPreconditionError(
        absl::StrCat("fusion: only ", split.queries.size(), " held-out engagements to learn from"));
  }

  // The feed as of the queries: collaborative tables fitted on their past only.
  pipeline::FeedModelParts parts;
  parts.version = "fusion-training";
  parts.two_tower = two_tower;
  parts.ranker = ranker;
  if (manifest.collaborative.has_value()) {
    retrieval::CollabFitOptions fit;
    fit.ease_cap = manifest.collaborative->ease_cap;
    fit.ease_lambda = manifest.collaborative->ease_lambda;
    fit.neighbours = manifest.collaborative->neighbours;
    fit.transition_neighbours = manifest.collaborative->transition_neighbours;
    fit.ease_dense_max = manifest.collaborative->ease_dense_max;
    fit.threads = o.threads;
    fit.show_progress = o.show_progress;
    VREC_ASSIGN_OR_RETURN(retrieval::CollaborativeModel tables, retrieval::FitCollaborative(split.past, fit, nullptr));
    parts.collaborative = std::make_shared<const retrieval::CollaborativeModel>(std::move(tables));
  }
  split.past = {};
  pipeline::FeedModelParts rule_parts = parts;  // for measuring the rules, below
  featurestore::FeatureUpdateOptions update;
  update.history_length = manifest.history_length;
  VREC_ASSIGN_OR_RETURN(pipeline::PointInTimeFeatures features,
                        pipeline::ReplayFeaturesAsOf(world_dir, catalog, update, split.in_past, split.as_of_ms));
  VREC_ASSIGN_OR_RETURN(std::shared_ptr<const retrieval::ExactIndex> index,
                        pipeline::PointInTimeIndex(*features.view, *two_tower, split.as_of_ms));
  VREC_ASSIGN_OR_RETURN(std::shared_ptr<const pipeline::FeedModel> feed,
                        pipeline::PointInTimeFeedModel(*features.view, index, split.as_of_ms, std::move(parts),
                                                       pipeline::FeedModelOptions()));

  // Every request through the pipeline; rows kept for the requests with a retrieved target.
  // Request q is in fold q % folds: every fold is validated once by a fusion trained on the
  // others (cross-fitting), which picks the number of epochs; the exported fusion is then refit
  // on every fold for that many epochs.
  const size_t n = split.queries.size();
  const int folds = std::max(2, static_cast<int>(std::lround(1.0 / o.validation_share)));
  // Query q's feed request (its user, as of its time, ten items).
  auto request_of = [&split](size_t q) {
    pipeline::FeedRequest request;
    request.user_id = split.queries[q].user;
    request.count = 10;
    request.now_ms = split.queries[q].time;
    return request;
  };
  std::vector<RequestResult> results(n);
  VREC_RETURN_IF_ERROR(pipeline::RecommendEach(
      n, o.threads, *features.view, *feed, request_of,
      [&](size_t q, pipeline::FeedResult& result) {
        RequestResult& out = results[q];
        const std::vector<retrieval::Candidate>& c = result.candidates;
        for (VideoId target : split.queries[q].targets) {
          QueryRanks r;
          for (size_t i = 0; i < c.size(); ++i) {
            if (c[i].video == target) r.target = static_cast<int>(i);
          }
          out.queries.push_back(r);
        }
        // Each engaged video's ranks leave out the request's other engaged videos: they are
        // not negatives (random splits hold out about ten per user).
        std::vector<uint32_t> retrieved_targets, others;
        for (const QueryRanks& r : out.queries) {
          if (r.target >= 0) retrieved_targets.push_back(static_cast<uint32_t>(r.target));
        }
        for (QueryRanks& r : out.queries) {
          if (r.target < 0) continue;
          OtherTargets(retrieved_targets, static_cast<uint32_t>(r.target), &others);
          const retrieval::Candidate& t = c[r.target];
          for (int s = 0; s < retrieval::kNumSources; ++s) {
            uint32_t rank = t.source_rank[s];
            for (const uint32_t o : others) rank -= rank > 0 && c[o].source_rank[s] > 0 && c[o].source_rank[s] < rank;
            r.source[s] = static_cast<uint16_t>(rank);
          }
          if (result.ranked) r.ranker = RankOf(result.ranker_scores, r.target, others);
        }
        if (!retrieved_targets.empty()) {
          ranking::FusionInputs(c, result.ranker_scores, &out.rows);
          out.candidates = c.size();
        }
      }));
  const double pipeline_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();

  std::vector<float> inputs;
  std::vector<std::vector<ranking::FusionModel::Query>> by_fold(folds);
  size_t retrieved = 0, targets = 0;
  std::array<double, retrieval::kNumSources> source_gain{};
  double ranker_gain = 0;
  for (size_t q = 0; q < n; ++q) {
    RequestResult& r = results[q];
    const size_t first = inputs.size() / ranking::kFusionFeatures;
    inputs.insert(inputs.end(), r.rows.begin(), r.rows.end());
    r.rows = {};
    ranking::FusionModel::Query query{first, r.candidates, {}};
    for (const QueryRanks& t : r.queries) {
      ++targets;
      if (t.target < 0) continue;
      ++retrieved;
      query.targets.push_back(static_cast<uint32_t>(t.target));
      // The orders the fusion competes with, over the same queries.
      ranker_gain += Gain(t.ranker);
      for (int s = 0; s < retrieval::kNumSources; ++s) source_gain[s] += Gain(t.source[s]);
    }
    if (!query.targets.empty()) by_fold[q % folds].push_back(std::move(query));
  }
  results = {};
  bundle::FusionInfo info;
  info.hidden = o.hidden;
  info.train_queries = static_cast<int64_t>(retrieved);
  info.validation_queries = static_cast<int64_t>(targets);
  info.candidate_recall = targets > 0 ? static_cast<double>(retrieved) / targets : 0.0;
  const double per_query = 1.0 / std::max<size_t>(1, targets);
  info.ranker_ndcg = ranker_gain * per_query;
  const int best = static_cast<int>(std::max_element(source_gain.begin(), source_gain.end()) - source_gain.begin());
  info.best_source = retrieval::SourceName(static_cast<retrieval::SourceId>(best));
  info.best_source_ndcg = source_gain[best] * per_query;

  // NDCG@10 gain of `model`'s order over `queries` (misses, the unretrieved targets, add 0).
  std::vector<float> scores;
  auto gain_of = [&](const ranking::FusionModel& model,
                     absl::Span<const ranking::FusionModel::Query> queries) -> absl::StatusOr<double> {
    double gain = 0;
    std::vector<uint32_t> others;
    for (const ranking::FusionModel::Query& q : queries) {
      scores.resize(q.rows);
      VREC_RETURN_IF_ERROR(model.Score(
          absl::MakeConstSpan(inputs).subspan(q.first * ranking::kFusionFeatures, q.rows * ranking::kFusionFeatures),
          scores.data()));
      for (const uint32_t t : q.targets) {
        OtherTargets(q.targets, t, &others);
        gain += Gain(RankOf(scores, t, others));
      }
    }
    return gain;
  };
  // Every fold but `held` (all of them when held < 0).
  auto training_folds = [&](int held) {
    std::vector<ranking::FusionModel::Query> train;
    for (int f = 0; f < folds; ++f) {
      if (f != held) train.insert(train.end(), by_fold[f].begin(), by_fold[f].end());
    }
    return train;
  };
  // A fusion trained on `train` for `epochs` epochs (seeded: the same arguments give the same
  // model); `after_epoch` sees it after each one.
  auto train_fusion = [&](std::vector<ranking::FusionModel::Query> train, int epochs, uint64_t seed,
                          const std::function<absl::Status(int, const ranking::FusionModel&)>& after_epoch)
      -> absl::StatusOr<std::unique_ptr<ranking::FusionModel>> {
    Rng order(seed);
    VREC_ASSIGN_OR_RETURN(std::unique_ptr<ranking::FusionModel> model, ranking::FusionModel::Create(o.hidden, seed));
    for (int epoch = 1; epoch <= epochs && !train.empty(); ++epoch) {
      for (size_t i = train.size(); i > 1; --i) std::swap(train[i - 1], train[order.UniformInt(i)]);
      VREC_RETURN_IF_ERROR(model->TrainEpoch(inputs, train, o.batch_queries, o.learning_rate).status());
      if (after_epoch) VREC_RETURN_IF_ERROR(after_epoch(epoch, *model));
    }
    return model;
  };

  // Cross-fitting: the validation gain of every epoch, summed over the folds.
  std::vector<double> epoch_gain(o.epochs + 1, 0.0);
  for (int f = 0; f < folds && retrieved > 0; ++f) {
    VREC_RETURN_IF_ERROR(train_fusion(training_folds(f), o.epochs, o.seed + f,
                                      [&](int epoch, const ranking::FusionModel& model) -> absl::Status {
                                        VREC_ASSIGN_OR_RETURN(const double gain, gain_of(model, by_fold[f]));
                                        epoch_gain[epoch] += gain;
                                        return absl::OkStatus();
                                      })
                             .status());
  }
  for (int epoch = 1; epoch <= o.epochs && retrieved > 0; ++epoch) {
    const double ndcg = epoch_gain[epoch] * per_query;
    if (o.show_progress) {
      std::fprintf(stderr,
                   "fusion: epoch %d: validation NDCG@10 %.4f over %d folds (ranker %.4f, best source %s %.4f)\n",
                   epoch, ndcg, folds, info.ranker_ndcg, info.best_source.c_str(), info.best_source_ndcg);
    }
    if (ndcg > info.validation_ndcg || epoch == 1) {
      info.validation_ndcg = ndcg;
      info.epochs = epoch;
    }
  }
  // Ties go to the fusion: it reproduces a single source's order when that is the best there is,
  // while the alternative when it is not used is the ranker's order.
  info.used = retrieved > 0 && info.validation_ndcg >= std::max(info.ranker_ndcg, info.best_source_ndcg) &&
              info.validation_ndcg > 0;
  std::unique_ptr<ranking::FusionModel> rules_fusion;  // the last fold's, for measuring the rules
  // When the learned fusion loses to a source that beats the ranker, the feed orders by that
  // source and the learned fusion orders the candidates it did not return: its validation
  // NDCG@10 is the source's (an engaged video missing from the source's list is below rank 10
  // in either order whenever the source returns 10 or more).
  const bool lead = !info.used && retrieved > 0 && info.best_source_ndcg > info.ranker_ndcg;
  if (lead) {
    info.order = info.best_source;
    info.validation_ndcg = info.best_source_ndcg;
    info.used = true;
  }
  if (info.used) {
    VREC_ASSIGN_OR_RETURN(std::unique_ptr<ranking::FusionModel> refit,
                          train_fusion(training_folds(-1), info.epochs, o.seed + folds, nullptr));
    VREC_RETURN_IF_ERROR(refit->Save(bundle::BundleFusionPath(bundle_dir)));
    VREC_ASSIGN_OR_RETURN(rules_fusion, train_fusion(training_folds(folds - 1), info.epochs, o.seed + folds - 1, nullptr));
    if (lead) rules_fusion->LeadBy(static_cast<retrieval::SourceId>(best));
  } else {
    std::error_code ec;
    std::filesystem::remove(bundle::BundleFusionPath(bundle_dir), ec);
  }
  if (o.show_progress) {
    std::fprintf(stderr, "fusion: pipeline over %zu requests %.0f s, training %.0f s\n", n, pipeline_seconds,
                 std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count() - pipeline_seconds);
  }

  // The re-ranking rules: the last fold's feeds (ordered as served: by that fold's fusion, which
  // never saw them, when the fusion is used) with each combination of the rules; a rule stays
  // unless dropping it raises NDCG@10.
  rule_parts.fusion = std::move(rules_fusion);
  std::vector<size_t> rule_requests;
  for (size_t q = folds - 1; q < n; q += folds) rule_requests.push_back(q);
  size_t rule_targets = 0;
  for (size_t q : rule_requests) rule_targets += split.queries[q].targets.size();
  const double per_rule_query = 1.0 / std::max<size_t>(1, rule_targets);
  bundle::RulesInfo rules;
  double best_ndcg = -1;
  for (const bool diversity : {true, false}) {
    for (const bool freshness : {true, false}) {
      pipeline::FeedModelParts variant = rule_parts;
      variant.rules = {diversity, freshness};
      VREC_ASSIGN_OR_RETURN(std::shared_ptr<const pipeline::FeedModel> model,
                            pipeline::PointInTimeFeedModel(*features.view, index, split.as_of_ms, std::move(variant),
                                                           pipeline::FeedModelOptions()));
      std::vector<double> gain(rule_requests.size(), 0.0);
      VREC_RETURN_IF_ERROR(pipeline::RecommendEach(
          rule_requests.size(), o.threads, *features.view, *model,
          [&](size_t q) { return request_of(rule_requests[q]); },
          [&](size_t q, pipeline::FeedResult& result) {
            // Each engaged video at its position among the items that are not engaged ones.
            const std::vector<VideoId>& targets = split.queries[rule_requests[q]].targets;
            uint32_t engaged_above = 0;
            for (size_t p = 0; p < result.items.size(); ++p) {
              if (std::find(targets.begin(), targets.end(), result.items[p].video) == targets.end()) continue;
              gain[q] += Gain(static_cast<uint32_t>(p + 1) - engaged_above++);
            }
          }));
      double total = 0;
      for (double g : gain) total += g;
      const double ndcg = total * per_rule_query;
      if (o.show_progress) {
        std::fprintf(stderr, "rules: diversity %s, freshness boost %s: validation NDCG@10 %.4f\n",
                     diversity ? "on" : "off", freshness ? "on" : "off", ndcg);
      }
      if (diversity && freshness) rules.all_rules_ndcg = ndcg;
      if (ndcg > best_ndcg) {
        best_ndcg = ndcg;
        rules.keep = {diversity, freshness};
        rules.validation_ndcg = ndcg;
      }
    }
  }
  rules.keep.exploration = !manifest.ranker->from_engagements;
  manifest.rules = rules;
  info.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  manifest.fusion = info;
  VREC_RETURN_IF_ERROR(bundle::WriteBundleManifest(bundle_dir, manifest));
  return info;
}

}  // namespace vrec::training
