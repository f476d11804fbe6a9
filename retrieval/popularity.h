// The popularity-backed candidate data, read from the feature store: trending (decayed
// 1-day clicks, watches and likes), all-time popularity (clicks) and recent uploads. The
// server rebuilds it periodically so that ingested events move trending and new uploads
// reach the fresh source.
#ifndef VREC_RETRIEVAL_POPULARITY_H_
#define VREC_RETRIEVAL_POPULARITY_H_

#include <memory>
#include <vector>

#include "absl/status/statusor.h"
#include "common/types.h"
#include "common/world.h"
#include "featurestore/feature_replay.h"
#include "featurestore/feature_view.h"
#include "retrieval/candidates.h"
#include "retrieval/trending.h"

namespace vrec::retrieval {

struct PopularityOptions {
  TimestampMs fresh_window_ms = 2 * kMsPerDay;  // uploads this recent are "fresh"
};

struct PopularitySnapshot {
  TimestampMs as_of_ms = 0;  // counters are decayed to this time
  std::shared_ptr<const Trending> trending;
  std::shared_ptr<const Trending> popular;
  std::shared_ptr<const std::vector<FreshVideo>> fresh;  // newest first
};

// The scores the snapshot ranks videos by, as of now_ms: trending is decayed 1-day clicks,
// watches and likes (0 below a tenth of one engagement), popular is all-time clicks. The
// ranker's training rebuilds the snapshot's ranks from point-in-time features with them.
float TrendingScore(const featurestore::VideoFeatures& v, TimestampMs now_ms);
float PopularScore(const featurestore::VideoFeatures& v);
// Both scores of every catalog video (by video id) from point-in-time features as of now_ms:
// what the server's snapshot would have ranked then.
void PointInTimePopularityScores(const Catalog& catalog, const featurestore::FeatureReplay& replay, TimestampMs now_ms,
                                 std::vector<float>* trending, std::vector<float>* popular);

// One scan of the view's videos (the online store, or point-in-time features), as of `now_ms`.
// DataLoss for a corrupt store.
absl::StatusOr<PopularitySnapshot> BuildPopularitySnapshot(const featurestore::FeatureView& store, TimestampMs now_ms,
                                                           const PopularityOptions& options);

}  // namespace vrec::retrieval

#endif  // VREC_RETRIEVAL_POPULARITY_H_
