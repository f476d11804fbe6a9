// The recommendation pipeline: one feed request in, one typed FeedResult out. The server's
// feed handler (serving/feed_service.h), the replay evaluator's full pipeline
// (evaluation/replay_models.h) and the parity test all call Recommend, so what the replay measures
// is what the server serves.
//
//   1. user features      one FeatureView::GetUser (an unknown user is a cold start, not an error)
//   2. retrieval          the user tower, then every candidate source with its quota
//                         (retrieval/candidates.h), minus what the user has seen and the
//                         request excludes, merged and deduplicated
//   3. video features     one FeatureView::GetVideos for the candidates and the history
//   4. ranker             every candidate featurized (ranking/candidate_featurizer.h) and
//                         scored in one batched forward
//   5. fusion             when the bundle has one: every source's and the ranker's evidence
//                         combined into the order (ranking/fusion.h)
//   6. re-rank            freshness, diversity, exploration (ranking/reranker.h)
//
// A failing source or ranker degrades the result (the reasons are listed), never fails it:
// without a ranker, or when it fails, the best candidates by retrieval score are served. Only
// a failing FeatureView read is an error.
//
// FeedModel is everything one version of the feed needs besides the features: the two-tower
// model and the index its sources search (the bundle's HNSW index on the server, an exact
// index over point-in-time embeddings in the replay), the ranker, the popularity snapshot and
// the options. It is immutable; a request pins it through shared_ptr<const FeedModel>.
#ifndef VREC_PIPELINE_RECOMMENDER_H_
#define VREC_PIPELINE_RECOMMENDER_H_

#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "common/types.h"
#include "featurestore/feature_view.h"
#include "ranking/cross_features.h"
#include "ranking/fusion.h"
#include "ranking/ranker.h"
#include "ranking/reranker.h"
#include "retrieval/candidates.h"
#include "retrieval/collaborative.h"
#include "retrieval/popularity.h"
#include "retrieval/two_tower.h"
#include "retrieval/vector_index.h"

namespace vrec::pipeline {

struct FeedModelOptions {
  retrieval::RetrieverOptions retriever;    // per-source quotas
  retrieval::PopularityOptions popularity;  // the fresh window
  int item_to_item_seeds = 5;   // last engaged videos expanded by item-to-item
  size_t fresh_pool = 2000;     // newest uploads the fresh source considers
  ranking::RerankOptions rerank;  // applied after the ranker
  // Where a bundle is loaded (serving/model_updater.h): search its embeddings exactly instead
  // of through its HNSW graph (the parity test; small catalogs). Default false.
  bool exact_search = false;
  // Apply the bundle's measured rule choice (FeedModelParts::rules) to `rerank`. Default true.
  bool bundle_rules = true;
};

struct FeedModel {
  std::string version;  // the bundle version, or "popularity-<date>" without a model
  retrieval::PopularitySnapshot popularity;
  std::shared_ptr<const retrieval::TwoTowerModel> two_tower;  // null: popularity sources only
  std::shared_ptr<const retrieval::VectorIndex> index;        // null without a two-tower model
  std::shared_ptr<const ranking::RankerModel> ranker;         // null: order by retrieval score
  std::shared_ptr<const retrieval::CollaborativeModel> collaborative;  // null: no collaborative sources
  std::shared_ptr<const ranking::FusionModel> fusion;          // null: the ranker's order
  std::unique_ptr<retrieval::Retriever> retriever;
  ranking::RerankOptions rerank;
};

// What one model version is made of. `two_tower` and `index` come together or not at all;
// `ranker` and `collaborative` may be null.
struct FeedModelParts {
  std::string version;  // empty: "popularity-<date>"
  std::shared_ptr<const retrieval::TwoTowerModel> two_tower;
  std::shared_ptr<const retrieval::VectorIndex> index;
  std::shared_ptr<const ranking::RankerModel> ranker;
  std::shared_ptr<const retrieval::CollaborativeModel> collaborative;
  retrieval::PopularitySnapshot popularity;
  std::shared_ptr<const ranking::FusionModel> fusion;
  ranking::RuleChoice rules;  // the bundle's (bundle::BundleManifest::rules); default: every rule
};

// Wires the sources of a model version.
std::shared_ptr<const FeedModel> MakeFeedModel(FeedModelParts parts, const FeedModelOptions& options);
// A popularity-only model from the view as of `now_ms` (servers without bundles, tests).
absl::StatusOr<std::shared_ptr<const FeedModel>> LoadFeedModel(const featurestore::FeatureView& view,
                                                               TimestampMs now_ms,
                                                               const FeedModelOptions& options = FeedModelOptions());

// One feed request, validated by the caller.
struct FeedRequest {
  UserId user_id = 0;
  uint32_t count = 20;           // items wanted
  std::vector<VideoId> exclude;  // sorted, unique: never returned
  Device device = Device::kUnknown;
  TimestampMs now_ms = 0;        // the request time: features and freshness are read as of it
  uint64_t request_id = 0;       // seeds the exploration draw (reproducible per request)
};

enum FeedStage : int {
  kStageUserFeatures = 0,
  kStageRetrieval,
  kStageVideoFeatures,
  kStageRanker,
  kStageFusion,
  kStageRerank,
  kNumFeedStages
};
// "user_features", "retrieval", "video_features", "ranker", "fusion", "rerank".
const char* FeedStageName(int stage);

// Why one item is where it is.
struct ItemExplanation {
  uint32_t candidate = 0;            // index into FeedResult::candidates
  bool ranked = false;               // the ranker scored it (heads, ranker_score, signals are set)
  std::array<float, ranking::kNumRankerHeads> heads{};
  float ranker_score = 0;            // the heads combined, before re-ranking
  float fusion_score = 0;            // the fusion's score, when the result is fused
  ranking::SourceSignals signals;    // every source's evidence the ranker saw
  float freshness = 0;               // the ranker's freshness input
  float propensity = 1;              // probability of this placement under the serving policy
  uint8_t rules = 0;                 // RerankRule bits
  featurestore::FeatureStatus metadata = featurestore::FeatureStatus::kMissing;
  featurestore::FeatureStatus counters = featurestore::FeatureStatus::kMissing;
};

struct FeedItem {
  VideoId video = 0;
  float score = 0;                   // the served score (after re-ranking), or the retrieval score unranked
  std::string category;
  ItemExplanation why;
};

struct FeedResult {
  std::string model_version;
  TimestampMs now_ms = 0;
  TimestampMs popularity_as_of_ms = 0;
  bool cold_start = false;           // no profile and no history
  bool ranked = false;               // the ranker ordered the items
  std::vector<FeedItem> items;       // served order
  std::vector<retrieval::Candidate> candidates;  // everything retrieved, best retrieval score first
  std::vector<float> ranker_scores;  // each candidate's combined ranker score (empty unranked)
  bool fused = false;                // the fusion ordered the items (before re-ranking)
  std::vector<float> fusion_scores;  // each candidate's fusion score (empty unfused)
  std::array<uint32_t, retrieval::kNumSources> produced{};  // candidates each source returned
  std::vector<retrieval::SourceFailure> source_failures;
  absl::Status ranker_status;        // why the ranker did not order the items, if it failed
  std::vector<std::string> degraded; // reasons, e.g. "source_failed:two_tower", "ranker_failed"
  size_t seen_excluded = 0;          // seen videos (history and earlier) never shown again
  size_t request_excluded = 0;
  featurestore::FeatureStatus profile = featurestore::FeatureStatus::kMissing;
  featurestore::FeatureStatus activity = featurestore::FeatureStatus::kMissing;
  featurestore::FeatureStatus history = featurestore::FeatureStatus::kMissing;
  std::array<double, kNumFeedStages> stage_ms{};
  std::array<float, ranking::kNumRankerHeads> score_weights{};  // the ranker's head weights when ranked
};

// Runs the pipeline. Thread-safe (the model is immutable; per-thread scratch buffers).
// Errors: the view's (DataLoss, Unavailable, ...); everything else degrades instead.
absl::StatusOr<FeedResult> Recommend(const FeedRequest& request, const featurestore::FeatureView& view,
                                     const FeedModel& model);

}  // namespace vrec::pipeline

#endif  // VREC_PIPELINE_RECOMMENDER_H_
