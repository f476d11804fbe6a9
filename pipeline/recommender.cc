#include "pipeline/recommender.h"

#include <algorithm>
#include <chrono>

#include "absl/strings/str_cat.h"
#include "common/clock.h"
#include "common/status.h"
#include "featurestore/transforms.h"
#include "ranking/candidate_featurizer.h"

namespace vrec::pipeline {
namespace {

using SteadyClock = std::chrono::steady_clock;

double Ms(SteadyClock::time_point from, SteadyClock::time_point to) {
  return std::chrono::duration<double, std::milli>(to - from).count();
}

// Scores every candidate in one batched forward: heads[i * kNumRankerHeads + h]. `videos`
// holds the candidates' features followed by the user's history videos' (for their creators).
absl::Status RankCandidates(const FeedModel& m, const featurestore::UserFeatures& user,
                            const featurestore::FeatureContext& context,
                            const std::vector<retrieval::Candidate>& candidates,
                            const std::vector<featurestore::VideoRead>& videos,
                            std::vector<ranking::SourceSignals>* signals, std::vector<ranking::CrossInputs>* cross,
                            std::vector<float>* heads) {
  thread_local std::vector<CreatorId> creators;
  creators.clear();
  for (size_t i = candidates.size(); i < videos.size(); ++i) creators.push_back(videos[i].features.creator_id);
  const ranking::CandidateFeaturizer featurizer(user, creators, context, m.ranker->config().transform);
  thread_local ranking::RequestSignals request_signals;
  request_signals.Init(m.index.get(), user, m.popularity.trending.get(), m.popularity.popular.get());
  thread_local std::vector<featurestore::VideoInputs> inputs;
  inputs.resize(candidates.size());
  cross->resize(candidates.size());
  signals->resize(candidates.size());
  for (size_t i = 0; i < candidates.size(); ++i) {
    (*signals)[i] = request_signals.For(candidates[i]);
    featurizer.Featurize(videos[i].features, (*signals)[i], &inputs[i], &(*cross)[i]);
  }
  heads->resize(candidates.size() * ranking::kNumRankerHeads);
  return m.ranker->Score(featurizer.user(), inputs, *cross, heads->data());
}

}  // namespace

const char* FeedStageName(int stage) {
  static constexpr const char* kNames[] = {"user_features", "retrieval", "video_features", "ranker", "fusion",
                                           "rerank"};
  return stage >= 0 && stage < kNumFeedStages ? kNames[stage] : "unknown";
}

std::shared_ptr<const FeedModel> MakeFeedModel(FeedModelParts parts, const FeedModelOptions& options) {
  auto model = std::make_shared<FeedModel>();
  if (parts.two_tower == nullptr) parts.index = nullptr;
  std::vector<std::unique_ptr<retrieval::CandidateSource>> sources;
  const retrieval::VectorIndex* raw_index = parts.index.get();
  if (raw_index != nullptr) {
    sources.push_back(retrieval::MakeTwoTowerSource(raw_index));
    sources.push_back(retrieval::MakeItemToItemSource(raw_index, options.item_to_item_seeds));
  }
  const retrieval::PopularitySnapshot& popularity = parts.popularity;
  sources.push_back(retrieval::MakeTrendingSource(popularity.trending, retrieval::kSourceTrending));
  sources.push_back(
      retrieval::MakeFreshSource(popularity.fresh, options.popularity.fresh_window_ms, options.fresh_pool, raw_index));
  sources.push_back(retrieval::MakeTrendingSource(popularity.popular, retrieval::kSourcePopular));
  if (parts.collaborative != nullptr) {
    for (retrieval::SourceId id : {retrieval::kSourceItemKnn, retrieval::kSourceEase, retrieval::kSourceTransitions}) {
      sources.push_back(retrieval::MakeCollaborativeSource(parts.collaborative, id));
    }
  }
  model->version = !parts.version.empty()
                       ? std::move(parts.version)
                       : absl::StrCat("popularity-", FormatTimestamp(popularity.as_of_ms).substr(0, 10));
  model->retriever =
      std::make_unique<retrieval::Retriever>(options.retriever, parts.two_tower, parts.index, std::move(sources));
  model->popularity = std::move(parts.popularity);
  model->two_tower = std::move(parts.two_tower);
  model->index = std::move(parts.index);
  model->ranker = std::move(parts.ranker);
  model->collaborative = std::move(parts.collaborative);
  model->fusion = std::move(parts.fusion);
  model->rerank = options.bundle_rules ? ranking::WithRules(options.rerank, parts.rules) : options.rerank;
  return model;
}

absl::StatusOr<std::shared_ptr<const FeedModel>> LoadFeedModel(const featurestore::FeatureView& view,
                                                               TimestampMs now_ms, const FeedModelOptions& options) {
  VREC_ASSIGN_OR_RETURN(retrieval::PopularitySnapshot popularity,
                        retrieval::BuildPopularitySnapshot(view, now_ms, options.popularity));
  FeedModelParts parts;
  parts.popularity = std::move(popularity);
  return MakeFeedModel(std::move(parts), options);
}

absl::StatusOr<FeedResult> Recommend(const FeedRequest& request, const featurestore::FeatureView& view,
                                     const FeedModel& m) {
  const TimestampMs now = request.now_ms;
  const featurestore::FeatureContext context{now, request.device};
  FeedResult result;
  result.model_version = m.version;
  result.now_ms = now;
  result.popularity_as_of_ms = m.popularity.as_of_ms;
  SteadyClock::time_point mark = SteadyClock::now();
  auto lap = [&](int stage) {
    const SteadyClock::time_point t = SteadyClock::now();
    result.stage_ms[stage] += Ms(mark, t);
    mark = t;
  };

  // 1. The user.
  VREC_ASSIGN_OR_RETURN(const featurestore::UserRead user, view.GetUser(request.user_id, now));
  result.cold_start =
      user.profile == featurestore::FeatureStatus::kMissing && user.history == featurestore::FeatureStatus::kMissing;
  result.profile = user.profile;
  result.activity = user.activity;
  result.history = user.history;
  lap(kStageUserFeatures);

  // 2. Candidates, minus everything the user has seen (watched, skipped, not interested: the
  // history and the earlier videos) and the request's exclusions.
  thread_local std::vector<VideoId> skip;
  featurestore::SeenVideos(user.features, &skip);  // sorted, unique
  result.seen_excluded = skip.size();
  const size_t seen = skip.size();
  skip.insert(skip.end(), request.exclude.begin(), request.exclude.end());  // sorted, unique too
  std::inplace_merge(skip.begin(), skip.begin() + seen, skip.end());
  skip.erase(std::unique(skip.begin(), skip.end()), skip.end());
  result.request_excluded = request.exclude.size();
  retrieval::RetrievalResult retrieved;
  m.retriever->Retrieve(user.features, context, skip, &retrieved);
  result.candidates = std::move(retrieved.candidates);
  result.produced = retrieved.produced;
  result.source_failures = std::move(retrieved.failures);
  for (const retrieval::SourceFailure& f : retrieved.failures)
    result.degraded.push_back(absl::StrCat("source_failed:", retrieval::SourceName(f.source)));
  lap(kStageRetrieval);

  // 3-5. Every candidate through the ranker in one batch, then the fusion (when the bundle has
  // one), then re-ranking. Without either (or if they fail) the best candidates by retrieval
  // score are served as they are.
  const std::vector<retrieval::Candidate>& candidates = result.candidates;
  thread_local std::vector<VideoId> ids;
  thread_local std::vector<featurestore::VideoRead> videos;
  thread_local std::vector<float> heads;
  thread_local std::vector<ranking::SourceSignals> signals;
  thread_local std::vector<ranking::CrossInputs> cross;
  thread_local std::vector<ranking::RerankedItem> served;
  bool have_videos = false;  // `videos` is aligned with the candidates
  // The candidates' video features (and, for the ranker, the history's: their creators).
  auto read_candidate_videos = [&](bool with_history) -> absl::Status {
    ids.clear();
    for (const retrieval::Candidate& c : candidates) ids.push_back(c.video);
    if (with_history) {
      for (const featurestore::HistoryEntry& h : user.features.history) ids.push_back(h.video_id);
    }
    VREC_RETURN_IF_ERROR(view.GetVideos(ids, now, &videos));
    have_videos = true;
    lap(kStageVideoFeatures);
    return absl::OkStatus();
  };
  if (m.ranker != nullptr && !candidates.empty()) {
    VREC_RETURN_IF_ERROR(read_candidate_videos(/*with_history=*/true));
    absl::Status scored = RankCandidates(m, user.features, context, candidates, videos, &signals, &cross, &heads);
    if (scored.ok()) {
      result.ranked = true;
      result.score_weights = m.ranker->config().head_weights;
      result.ranker_scores.resize(candidates.size());
      for (size_t i = 0; i < candidates.size(); ++i) {
        result.ranker_scores[i] = m.ranker->Combine(&heads[i * ranking::kNumRankerHeads]);
      }
    } else {
      result.ranker_status = scored;
      result.degraded.push_back("ranker_failed");
    }
    lap(kStageRanker);
  }
  if (m.fusion != nullptr && !candidates.empty()) {
    thread_local std::vector<float> fusion_inputs;
    ranking::FusionInputs(candidates, result.ranker_scores, &fusion_inputs);
    result.fusion_scores.resize(candidates.size());
    absl::Status fused = m.fusion->Score(fusion_inputs, result.fusion_scores.data());
    if (fused.ok()) {
      result.fused = true;
    } else {
      result.fusion_scores.clear();
      result.degraded.push_back("fusion_failed");
    }
    lap(kStageFusion);
  }
  const std::vector<float>& order = result.fused ? result.fusion_scores : result.ranker_scores;
  if (result.fused || result.ranked) {
    if (!have_videos) VREC_RETURN_IF_ERROR(read_candidate_videos(/*with_history=*/false));
    thread_local std::vector<ranking::RerankInput> rerank;
    rerank.resize(candidates.size());
    for (size_t i = 0; i < candidates.size(); ++i) {
      const featurestore::VideoFeatures& v = videos[i].features;
      rerank[i] = {order[i], featurestore::CategoryHash(v.category), v.creator_id, v.upload_ms,
                   candidates[i].from(retrieval::kSourceFresh)};
    }
    Rerank(rerank, request.count, now, m.rerank, request.request_id, &served);
    lap(kStageRerank);
  } else {
    const size_t n = std::min<size_t>(request.count, candidates.size());
    ids.assign(n, 0);
    served.assign(n, ranking::RerankedItem());
    for (size_t i = 0; i < n; ++i) {
      ids[i] = candidates[i].video;
      served[i].index = static_cast<uint32_t>(i);
      served[i].score = candidates[i].score;
    }
    VREC_RETURN_IF_ERROR(view.GetVideos(ids, now, &videos));
    lap(kStageVideoFeatures);
  }
  const bool ordered = result.fused || result.ranked;

  result.items.resize(served.size());
  for (size_t p = 0; p < served.size(); ++p) {
    const ranking::RerankedItem& r = served[p];
    // Ordered: `videos` is aligned with the candidates; otherwise with the served items.
    const featurestore::VideoRead& video = videos[ordered ? r.index : p];
    FeedItem& item = result.items[p];
    item.video = candidates[r.index].video;
    item.score = r.score;
    item.category = video.features.category;
    ItemExplanation& why = item.why;
    why.candidate = r.index;
    why.propensity = r.propensity;
    why.rules = r.rules;
    why.metadata = video.metadata;
    why.counters = video.counters;
    if (result.fused) why.fusion_score = result.fusion_scores[r.index];
    if (result.ranked) {
      why.ranked = true;
      std::copy(&heads[r.index * ranking::kNumRankerHeads], &heads[(r.index + 1) * ranking::kNumRankerHeads],
                why.heads.begin());
      why.ranker_score = result.ranker_scores[r.index];
      why.signals = signals[r.index];
      why.freshness = cross[r.index].dense[ranking::kCrossFresh];
    }
  }
  return result;
}

}  // namespace vrec::pipeline
