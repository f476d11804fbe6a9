// FeatureView: the read side of the features, as the recommendation pipeline sees them. Two
// implementations share it:
//
//   FeatureStore            the online RocksDB store the server reads (featurestore/feature_store.h)
//   PointInTimeFeatureView  features replayed from the event log up to a time, in memory, for
//                           the replay evaluator and training (featurestore/point_in_time_view.h)
//
// The pipeline (pipeline/recommender.h) is written against this interface only, so the replay
// runs the same code as the server. Reads report, per feature group, whether the value is
// present, stale (older than its TTL) or missing; missing values read as the defaults of
// UserFeatures / VideoFeatures (empty strings, zero counters, empty history, unknown creator).
#ifndef VREC_FEATURESTORE_FEATURE_VIEW_H_
#define VREC_FEATURESTORE_FEATURE_VIEW_H_

#include <cstdint>
#include <functional>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "featurestore/features.h"

namespace vrec::featurestore {

enum class FeatureStatus : uint8_t { kPresent = 0, kStale = 1, kMissing = 2 };
absl::string_view FeatureStatusName(FeatureStatus status);

struct UserRead {
  UserFeatures features;  // defaults where missing
  FeatureStatus profile = FeatureStatus::kMissing;   // country, language, age, sign-up
  FeatureStatus activity = FeatureStatus::kMissing;  // counters, category affinity, last active
  FeatureStatus history = FeatureStatus::kMissing;   // recent videos
};

struct VideoRead {
  VideoFeatures features;  // defaults where missing
  FeatureStatus metadata = FeatureStatus::kMissing;  // category, tags, creator, duration, ...
  FeatureStatus counters = FeatureStatus::kMissing;  // windowed engagement counters
};

// When a feature group counts as stale.
struct FeatureTtlOptions {
  // Video counters older than this are stale. Default 3 days.
  TimestampMs video_counters_ttl_ms = 3 * kMsPerDay;
  // User activity (counters, affinity) and history older than this are stale. Default 30 days.
  TimestampMs user_activity_ttl_ms = 30 * kMsPerDay;
};

// The statuses of a read whose `features` are filled, as of now_ms: the one rule both views use.
void SetUserReadStatus(const FeatureTtlOptions& ttl, TimestampMs now_ms, UserRead* read);
void SetVideoReadStatus(const FeatureTtlOptions& ttl, TimestampMs now_ms, VideoRead* read);

// Thread-safe for concurrent reads in both implementations.
class FeatureView {
 public:
  virtual ~FeatureView() = default;
  // The user's features as of now_ms; an unknown user reads as defaults (id set), not an error.
  // DataLoss when the underlying data is corrupt.
  virtual absl::StatusOr<UserRead> GetUser(UserId id, TimestampMs now_ms) const = 0;
  // `out` gets one entry per id, in order (unknown ids read as defaults with the id set).
  [[nodiscard]] virtual absl::Status GetVideos(absl::Span<const VideoId> ids, TimestampMs now_ms,
                                               std::vector<VideoRead>* out) const = 0;
  // Calls fn for every video in id order; stops at the first error.
  [[nodiscard]] virtual absl::Status ForEachVideo(const std::function<absl::Status(const VideoFeatures&)>& fn) const = 0;
};

}  // namespace vrec::featurestore

#endif  // VREC_FEATURESTORE_FEATURE_VIEW_H_
