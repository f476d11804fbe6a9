// PointInTimeFeatureView: the FeatureView over a FeatureReplay, i.e. features exactly as the
// event log left them at some time T (the replay evaluator's split). Reads copy from the
// replay's memory; statuses follow the same TTL rule as the online store; videos uploaded at or
// after T do not exist yet (ForEachVideo skips them), as in a store featurized `--as-of T`. So
// the pipeline cannot tell the two apart.
#ifndef VREC_FEATURESTORE_POINT_IN_TIME_VIEW_H_
#define VREC_FEATURESTORE_POINT_IN_TIME_VIEW_H_

#include "featurestore/feature_replay.h"
#include "featurestore/feature_view.h"

namespace vrec::featurestore {

// Thread-safe for concurrent reads as long as nobody advances the replay meanwhile. `replay`
// is not owned and must outlive the view.
class PointInTimeFeatureView : public FeatureView {
 public:
  PointInTimeFeatureView(const FeatureReplay* replay, TimestampMs as_of_ms,
                         FeatureTtlOptions ttl = FeatureTtlOptions())
      : replay_(replay), as_of_ms_(as_of_ms), ttl_(ttl) {}

  absl::StatusOr<UserRead> GetUser(UserId id, TimestampMs now_ms) const override;
  [[nodiscard]] absl::Status GetVideos(absl::Span<const VideoId> ids, TimestampMs now_ms,
                                       std::vector<VideoRead>* out) const override;
  [[nodiscard]] absl::Status ForEachVideo(const std::function<absl::Status(const VideoFeatures&)>& fn) const override;

 private:
  const FeatureReplay* replay_;
  TimestampMs as_of_ms_;
  FeatureTtlOptions ttl_;
};

}  // namespace vrec::featurestore

#endif  // VREC_FEATURESTORE_POINT_IN_TIME_VIEW_H_
