// Learned systems under test for `vrec replay`, trained on the replay's past only:
//
//   item-knn    item-to-item collaborative filtering: cosine similarity of co-engagement
//               (videos engaged by the same users), each video's best neighbours, summed over
//               every video the user engaged with. The classic strong baseline.
//   two-tower   a trained bundle's towers, with user and video features rebuilt point-in-time
//               from the replay's past (the same FeatureReplay and transforms as training and
//               serving), ranked by exact inner product over every available video.
//   full-pipeline  a bundle with a ranker, through the server's own pipeline
//               (pipeline/recommender.h): features from a PointInTimeFeatureView as of the
//               split, the candidate sources searching an ExactIndex over point-in-time item
//               embeddings (the bundle's HNSW index holds end-of-log embeddings), the popularity
//               snapshot rebuilt from the same view, the ranker and re-ranking as served
//               (exploration off). Each test user's request excludes their past engagement.
#ifndef VREC_EVALUATION_REPLAY_MODELS_H_
#define VREC_EVALUATION_REPLAY_MODELS_H_

#include <array>
#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "common/world.h"
#include "featurestore/feature_replay.h"
#include "featurestore/point_in_time_view.h"
#include "pipeline/recommender.h"
#include "retrieval/collaborative_fit.h"
#include "evaluation/replay.h"

namespace vrec::evaluation {

// Item-kNN: the cosine table of co-engagement over the options' ease_cap most engaged videos,
// its `neighbours` best per video (the bundle's item_knn source, fitted on the past).
absl::StatusOr<std::unique_ptr<ReplaySystem>> MakeItemKnnSystem(const ReplayData& data,
                                                                const retrieval::CollabFitOptions& options);

// EASE (Steck 2019) on the past engagements, dense over the options' ease_cap most engaged
// videos (retrieval/collaborative_fit.h), with its ease_lambda. The strongest classic
// baseline on MicroLens and MovieLens.
absl::StatusOr<std::unique_ptr<ReplaySystem>> MakeEaseSystem(const ReplayData& data,
                                                             const retrieval::CollabFitOptions& options);

// Embeds every test user and available video with the bundle at `bundle_dir` and ranks
// exactly, `depth` deep. FailedPrecondition if the bundle could have seen the test data: a
// time-split bundle trained past the split, or a bundle trained with another protocol.
absl::StatusOr<std::unique_ptr<ReplaySystem>> MakeTwoTowerSystem(const ReplayData& data,
                                                                      const std::string& world_dir,
                                                                      const Catalog& catalog,
                                                                      const std::string& bundle_dir, int depth,
                                                                      bool show_progress);

struct BundleReplayOptions {
  int depth = 100;                  // list length each system returns
  bool full_pipeline = true;        // also the full pipeline, if the bundle has a ranker
  // Full pipeline: the server's options (quotas, fresh window and pool, re-ranking); the
  // exploration rate is always 0 (deterministic lists).
  pipeline::FeedModelOptions feed;
  int threads = 2;                  // full pipeline requests in parallel
  bool show_progress = true;
};

// What the replay's full pipeline runs on: the point-in-time features of the past and the feed
// model built from them. The parity test serves the same world and compares.
struct PointInTimePipeline {
  std::unique_ptr<featurestore::FeatureReplay> replay;         // every past event applied
  std::unique_ptr<featurestore::PointInTimeFeatureView> view;  // over *replay, as of the split
  std::shared_ptr<const pipeline::FeedModel> model;            // exact index over point-in-time embeddings
};

// Builds the pipeline of the bundle at `bundle_dir` (which needs a ranker) as of the replay's
// split. FailedPrecondition as MakeBundleSystems; NotFound without a ranker.
absl::StatusOr<PointInTimePipeline> MakePointInTimePipeline(const ReplayData& data, const std::string& world_dir,
                                                            const Catalog& catalog, const std::string& bundle_dir,
                                                            const pipeline::FeedModelOptions& options);
// The request the replay sends for `test`: its past engagement excluded, as of its time.
pipeline::FeedRequest ReplayFeedRequest(const TestCase& test, uint32_t count);

struct BundleSystems {
  std::unique_ptr<ReplaySystem> two_tower;
  std::unique_ptr<ReplaySystem> full_pipeline;  // null when the bundle has no ranker
  int candidates_per_user = 0;                 // full pipeline: retrieval depth
  double retrieval_recall = 0;                 // full pipeline: share of engaged videos among the candidates
};

// The two-tower system and, when the bundle has a ranker, the full pipeline, from one
// point-in-time pass. Same preconditions as MakeTwoTowerSystem (and for the ranker's
// training window).
absl::StatusOr<BundleSystems> MakeBundleSystems(const ReplayData& data, const std::string& world_dir,
                                                          const Catalog& catalog, const std::string& bundle_dir,
                                                          const BundleReplayOptions& options);

}  // namespace vrec::evaluation

#endif  // VREC_EVALUATION_REPLAY_MODELS_H_
