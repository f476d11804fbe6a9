// Features of every user and video held in memory and advanced event by event through
// ApplyEvent, in log order. `vrec featurize` replays a whole log this way and writes the
// result to the store; the point-in-time example builder reads the features just before
// each event. Both therefore see exactly what live ingestion computes.
#ifndef VREC_FEATURESTORE_FEATURE_REPLAY_H_
#define VREC_FEATURESTORE_FEATURE_REPLAY_H_

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "common/progress.h"
#include "common/types.h"
#include "common/world.h"
#include "featurestore/feature_store.h"
#include "featurestore/features.h"

namespace vrec::featurestore {

// Not thread-safe. Memory grows with the number of users and videos, not events.
class FeatureReplay {
 public:
  FeatureReplay(const Catalog& catalog, const FeatureUpdateOptions& options);

  void Apply(const Event& event);
  // Features as of the last applied event; defaults (known = false) for ids never seen.
  const UserFeatures& user(UserId id) const;
  const VideoFeatures& video(VideoId id) const;
  // Ids with catalog metadata or at least one event.
  std::vector<const UserFeatures*> AllUsers() const;
  std::vector<const VideoFeatures*> AllVideos() const;
  uint64_t applied() const { return applied_; }
  TimestampMs last_event_ms() const { return last_event_ms_; }

 private:
  UserFeatures* MutableUser(UserId id);
  VideoFeatures* MutableVideo(VideoId id);

  FeatureUpdateOptions options_;
  std::vector<UserFeatures> users_;    // by id; id kInvalidId marks an empty slot
  std::vector<VideoFeatures> videos_;  // by id
  uint64_t applied_ = 0;
  TimestampMs last_event_ms_ = 0;
};

struct FeaturizeOptions {
  // Apply the log's events up to (not including) the first one at or after this time.
  // Default: all of them.
  TimestampMs as_of_ms = INT64_MAX;
  // When set, only events for which it holds are applied (the others are held out, e.g. a
  // replay protocol's test items); the store still reflects their place in the log.
  std::function<bool(const Event&)> keep;
  FeatureUpdateOptions update;
  FeatureStoreOptions store;
  bool show_progress = true;
};

struct FeaturizeSummary {
  uint64_t events_applied = 0;
  uint64_t events_read = 0;     // the store's watermark (applied plus held out)
  uint64_t users = 0;
  uint64_t videos = 0;
  TimestampMs as_of_ms = 0;     // the store's time: --as-of when given, else the last applied event
  double replay_seconds = 0;
  double write_seconds = 0;
};

// Builds a feature store at `store_dir` from a world in one streaming pass over its log. The
// store is written beside it and renamed into place when complete, so `store_dir` always
// holds either the previous complete store or the new one.
absl::StatusOr<FeaturizeSummary> Featurize(const std::string& world_dir, const std::string& store_dir,
                                           const FeaturizeOptions& options);

// Replays the world's log in order. For each event with timestamp < until_ms for which
// want(event) is true, calls emit(event, user, video) with the features as they were just
// before the event (never including it or anything later), then applies it.
[[nodiscard]] absl::Status ForEachPointInTimeExample(
    const std::string& world_dir, const Catalog& catalog, const FeatureUpdateOptions& options,
    TimestampMs until_ms, const std::function<bool(const Event&)>& want,
    const std::function<absl::Status(const Event&, const UserFeatures&, const VideoFeatures&)>& emit);

}  // namespace vrec::featurestore

#endif  // VREC_FEATURESTORE_FEATURE_REPLAY_H_
