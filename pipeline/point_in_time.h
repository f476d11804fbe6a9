// The feed of a model version as of a past time, for the jobs that must see exactly what the
// server would have served then: the replay's full pipeline (evaluation/replay_models.h) and
// the fusion's training queries (training/fusion_trainer.h).
//
//   features    the world's events the caller allows (its past), replayed with the same
//               update code as featurize, behind a PointInTimeFeatureView as of the time
//   index       an exact index over every video of that view, embedded by the item tower as of
//               the time (the bundle's HNSW index holds end-of-log embeddings, which would leak)
//   model       the given parts with that index and the view's popularity snapshot, exploration
//               off (deterministic lists)
#ifndef VREC_PIPELINE_POINT_IN_TIME_H_
#define VREC_PIPELINE_POINT_IN_TIME_H_

#include <functional>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "common/types.h"
#include "common/world.h"
#include "featurestore/feature_replay.h"
#include "featurestore/point_in_time_view.h"
#include "pipeline/recommender.h"
#include "retrieval/exact_index.h"

namespace vrec::pipeline {

struct PointInTimeFeatures {
  std::unique_ptr<featurestore::FeatureReplay> replay;         // every allowed event applied
  std::unique_ptr<featurestore::PointInTimeFeatureView> view;  // over *replay, as of the time
};

// Replays the events of `world_dir` for which in_past(event) holds.
absl::StatusOr<PointInTimeFeatures> ReplayFeaturesAsOf(const std::string& world_dir, const Catalog& catalog,
                                                       const featurestore::FeatureUpdateOptions& update,
                                                       const std::function<bool(const Event&)>& in_past,
                                                       TimestampMs as_of_ms);

// Every video of `view` embedded by `model`'s item tower as of `as_of_ms`, exactly searchable.
absl::StatusOr<std::shared_ptr<const retrieval::ExactIndex>> PointInTimeIndex(const featurestore::FeatureView& view,
                                                                              const retrieval::TwoTowerModel& model,
                                                                              TimestampMs as_of_ms);

// `parts` with `index` and the view's popularity as of `as_of_ms`; exploration off.
absl::StatusOr<std::shared_ptr<const FeedModel>> PointInTimeFeedModel(const featurestore::FeatureView& view,
                                                                      std::shared_ptr<const retrieval::ExactIndex> index,
                                                                      TimestampMs as_of_ms, FeedModelParts parts,
                                                                      FeedModelOptions options);

// Runs Recommend for requests 0..n-1 on `threads` threads, one model thread each (as the server
// runs them; the model's thread count is `threads` again afterwards). make(i) builds request i;
// consume(i, result) takes its result on the thread that computed it. Stops at the first error
// and returns it.
[[nodiscard]] absl::Status RecommendEach(size_t n, int threads, const featurestore::FeatureView& view,
                                         const FeedModel& model, const std::function<FeedRequest(size_t)>& make,
                                         const std::function<void(size_t, FeedResult&)>& consume);

}  // namespace vrec::pipeline

#endif  // VREC_PIPELINE_POINT_IN_TIME_H_
