// User and video features, and the one piece of code that updates them from events.
//
// `vrec featurize` (bulk), the point-in-time example builder (training) and live ingestion
// (POST /v1/events) all call ApplyEvent, so a feature means the same thing offline and online.
//
// Windowed counters are exponentially decayed: the "1 day" and "7 day" values are sums of
// events weighted by exp(-age / window), and "all time" is an exact sum. They need O(1) state,
// can be read as of any later time, and do not depend on when they were last written.
#ifndef VREC_FEATURESTORE_FEATURES_H_
#define VREC_FEATURESTORE_FEATURES_H_

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "common/types.h"

namespace vrec::featurestore {

// What the counters count.
enum CounterMetric : int {
  kImpressions = 0,
  kClicks = 1,
  kWatches = 2,
  kWatchSeconds = 3,
  kLikes = 4,
  kNumMetrics = 5,
};

inline constexpr TimestampMs kDayWindowMs = kMsPerDay;
inline constexpr TimestampMs kWeekWindowMs = 7 * kMsPerDay;

// Decayed (1 day, 7 day) and all-time sums of the metrics above.
struct EngagementCounters {
  TimestampMs updated_ms = 0;  // the time `day` and `week` refer to
  std::array<float, kNumMetrics> day{};
  std::array<float, kNumMetrics> week{};
  std::array<double, kNumMetrics> total{};

  // Adds `amount` of `metric` happening at `time_ms` (in or out of order).
  void Add(CounterMetric metric, double amount, TimestampMs time_ms);
  // Decayed values as of `now_ms` (>= updated_ms; earlier times are treated as updated_ms).
  float Day(CounterMetric metric, TimestampMs now_ms) const;
  float Week(CounterMetric metric, TimestampMs now_ms) const;
};

// Per-user engagement with one video (most recent interactions of the user).
struct HistoryEntry {
  // Signal bits.
  static constexpr uint8_t kClicked = 1, kWatched = 2, kLiked = 4, kShared = 8, kSkipped = 16,
                           kNotInterested = 32;
  VideoId video_id = 0;
  TimestampMs time_ms = 0;   // last interaction with this video
  float watch_ratio = 0;     // watch time / duration, capped at 1; 0 if not watched
  uint8_t signals = 0;
};

// A video that left the user's recent history: the rest of the seen-set, and the collaborative
// sources' view of everything the user engaged with.
struct EarlierVideo {
  VideoId video = 0;
  bool engaged = false;  // IsEngagedEntry when it left the history
};

struct CategoryAffinity {
  uint32_t category = 0;  // CategoryHash of the category name
  float week = 0;         // decayed (7 days) engagement weight as of UserFeatures::affinity_ms
  float total = 0;        // all-time engagement weight
};

struct VideoFeatures {
  VideoId id = 0;
  bool known = false;        // has catalog metadata
  std::string category;
  std::vector<std::string> tags;  // at most kMaxTags
  CreatorId creator_id = kInvalidId;
  uint32_t duration_ms = 0;
  std::string language;
  TimestampMs upload_ms = 0;
  EngagementCounters counters;

  static constexpr size_t kMaxTags = 8;
};

struct UserFeatures {
  UserId id = 0;
  bool known = false;        // has a profile (country, language, age, sign-up)
  std::string country;
  std::string language;
  uint8_t age_bucket = 0;
  TimestampMs signup_ms = 0;
  TimestampMs last_active_ms = 0;  // 0: never active
  EngagementCounters counters;     // the user's own impressions, clicks, ...
  TimestampMs affinity_ms = 0;     // the time CategoryAffinity::week refers to
  std::vector<CategoryAffinity> affinity;  // at most FeatureUpdateOptions::max_categories
  std::vector<HistoryEntry> history;       // oldest first, at most history_length
  std::vector<EarlierVideo> earlier;       // left the history, oldest first, at most earlier_length

  const HistoryEntry* FindHistory(VideoId video) const;
};

// A history entry worth expanding into similar videos (the item-to-item source, the ranker's
// item-to-item cross feature): a click, a real watch, a like or a share, and no negative signal.
inline bool IsEngagedEntry(const HistoryEntry& h) {
  if (h.signals & (HistoryEntry::kSkipped | HistoryEntry::kNotInterested)) return false;
  return (h.signals & (HistoryEntry::kClicked | HistoryEntry::kLiked | HistoryEntry::kShared)) ||
         h.watch_ratio >= 0.3f;
}

struct FeatureUpdateOptions {
  // Videos kept in a user's recent history (the feed never shows them again). Default 100.
  uint32_t history_length = 100;
  // Categories kept in a user's affinity list; a new category replaces the one with the
  // weakest 7-day affinity. Default 32.
  uint32_t max_categories = 32;
  // Videos kept after they leave the recent history (the seen-set beyond it, ~3 bytes each on
  // disk); the oldest are dropped beyond this. Default 5000.
  uint32_t earlier_length = 5000;
};

// Every video the user has had an event with besides impressions (history and earlier),
// sorted and unique: the feed never shows them again.
void SeenVideos(const UserFeatures& user, std::vector<VideoId>* out);
// The user's engaged videos (earlier ones, then IsEngagedEntry history entries), oldest first,
// each once.
void EngagedVideos(const UserFeatures& user, std::vector<VideoId>* out);

// Stable 32-bit hash of a category, tag or other string feature (FNV-1a). 0 is never
// returned for a non-empty string; "" hashes to 0.
uint32_t CategoryHash(absl::string_view text);

VideoFeatures VideoFeaturesFromCatalog(const Video& video);
UserFeatures UserFeaturesFromCatalog(const User& user);

// Applies one event to the user's and the video's features. `video` may be a default
// (unknown) video; its duration is then unknown and watch ratios are 0.
void ApplyEvent(const Event& event, const FeatureUpdateOptions& options, UserFeatures* user,
                VideoFeatures* video);

}  // namespace vrec::featurestore

#endif  // VREC_FEATURESTORE_FEATURES_H_
