#include "featurestore/feature_view.h"

namespace vrec::featurestore {
namespace {

FeatureStatus AgeStatus(TimestampMs last_ms, TimestampMs now_ms, TimestampMs ttl_ms) {
  if (last_ms == 0) return FeatureStatus::kMissing;
  return now_ms - last_ms > ttl_ms ? FeatureStatus::kStale : FeatureStatus::kPresent;
}

}  // namespace

absl::string_view FeatureStatusName(FeatureStatus status) {
  switch (status) {
    case FeatureStatus::kPresent: return "present";
    case FeatureStatus::kStale: return "stale";
    case FeatureStatus::kMissing: return "missing";
  }
  return "unknown";
}

void SetUserReadStatus(const FeatureTtlOptions& ttl, TimestampMs now_ms, UserRead* read) {
  const UserFeatures& f = read->features;
  read->profile = f.known ? FeatureStatus::kPresent : FeatureStatus::kMissing;
  read->activity = AgeStatus(f.last_active_ms, now_ms, ttl.user_activity_ttl_ms);
  read->history = f.history.empty() ? FeatureStatus::kMissing
                                    : AgeStatus(f.history.back().time_ms, now_ms, ttl.user_activity_ttl_ms);
}

void SetVideoReadStatus(const FeatureTtlOptions& ttl, TimestampMs now_ms, VideoRead* read) {
  read->metadata = read->features.known ? FeatureStatus::kPresent : FeatureStatus::kMissing;
  read->counters = AgeStatus(read->features.counters.updated_ms, now_ms, ttl.video_counters_ttl_ms);
}

}  // namespace vrec::featurestore
