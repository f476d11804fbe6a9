#include "featurestore/transforms.h"

#include <algorithm>
#include <cmath>

#include "common/random.h"

namespace vrec::featurestore {
namespace {

constexpr double kTwoPi = 6.283185307179586;

int64_t Bucket(uint32_t hash, uint32_t buckets) {
  return hash == 0 ? 0 : 1 + static_cast<int64_t>(hash % (buckets - 1));
}

int64_t StringBucket(absl::string_view text, uint32_t buckets) { return Bucket(CategoryHash(text), buckets); }

float Log1p(double x) { return static_cast<float>(std::log1p(std::max(0.0, x))); }

float Days(TimestampMs ms) { return static_cast<float>(static_cast<double>(ms) / kMsPerDay); }

float Smoothed(double hits, double trials, float prior, float weight) {
  return static_cast<float>((hits + weight * prior) / (trials + weight));
}

float Decay(TimestampMs elapsed_ms, TimestampMs window_ms) {
  return elapsed_ms <= 0 ? 1.0f : static_cast<float>(std::exp(-static_cast<double>(elapsed_ms) / window_ms));
}

}  // namespace

bool UserInputs::operator==(const UserInputs& o) const {
  return country == o.country && language == o.language && age_bucket == o.age_bucket &&
         device == o.device && hour == o.hour && weekday == o.weekday && history == o.history &&
         history_weight == o.history_weight && top_categories == o.top_categories &&
         top_category_weight == o.top_category_weight && dense == o.dense;
}

bool VideoInputs::operator==(const VideoInputs& o) const {
  return video == o.video && category == o.category && creator == o.creator &&
         language == o.language && duration_bucket == o.duration_bucket && tags == o.tags &&
         dense == o.dense;
}

int64_t VideoBucket(VideoId video, uint32_t buckets) {
  if (video < buckets - 1) return 1 + static_cast<int64_t>(video);  // a row of its own
  return 1 + static_cast<int64_t>(SplitMix64(video) % (buckets - 1));
}

UserInputs TransformUser(const UserFeatures& u, const FeatureContext& c, const TransformOptions& o) {
  UserInputs in;
  in.country = StringBucket(u.country, o.country_buckets);
  in.language = StringBucket(u.language, o.language_buckets);
  in.age_bucket = u.age_bucket;
  in.device = static_cast<int64_t>(c.device);
  const TimestampMs ms_of_week = ((c.now_ms % (7 * kMsPerDay)) + 7 * kMsPerDay) % (7 * kMsPerDay);
  in.hour = (ms_of_week % kMsPerDay) / kMsPerHour;
  in.weekday = (ms_of_week / kMsPerDay + 3) % 7;  // 1970-01-01 was a Thursday

  // Most recent first; weight = signal strength x recency (7-day decay from the newest entry).
  TimestampMs newest_ms = 0;
  for (const HistoryEntry& h : u.history) newest_ms = std::max(newest_ms, h.time_ms);
  ForEachHistorySlot(u, [&](int slot, const HistoryEntry& h) {
    float strength = 0.5f;
    if (h.signals & HistoryEntry::kWatched) strength = 0.5f + h.watch_ratio;
    if (h.signals & (HistoryEntry::kLiked | HistoryEntry::kShared)) strength += 1.0f;
    if (h.signals & HistoryEntry::kSkipped) strength *= 0.25f;
    in.history[slot] = VideoBucket(h.video_id, o.video_buckets);
    in.history_weight[slot] = strength * Decay(newest_ms - h.time_ms, kWeekWindowMs);
  });

  std::vector<CategoryAffinity> sorted = u.affinity;
  std::sort(sorted.begin(), sorted.end(), [](const CategoryAffinity& a, const CategoryAffinity& b) {
    return a.week != b.week ? a.week > b.week : a.category < b.category;
  });
  for (int i = 0; i < kUserTopCategories && i < static_cast<int>(sorted.size()); ++i) {
    in.top_categories[i] = Bucket(sorted[i].category, o.category_buckets);
    in.top_category_weight[i] = Log1p(sorted[i].week);  // as of the last engagement
  }

  const EngagementCounters& k = u.counters;
  const TimestampMs t = c.now_ms;
  auto& d = in.dense;
  d[0] = u.signup_ms > 0 ? Log1p(Days(t - u.signup_ms)) : 0.0f;
  d[1] = u.last_active_ms > 0 ? Log1p(Days(t - u.last_active_ms)) : Log1p(365.0);
  d[2] = Log1p(k.Day(kImpressions, t));
  d[3] = Log1p(k.Week(kImpressions, t));
  d[4] = Log1p(k.total[kImpressions]);
  d[5] = Log1p(k.Week(kClicks, t));
  d[6] = Log1p(k.total[kClicks]);
  d[7] = Smoothed(k.Week(kClicks, t), k.Week(kImpressions, t), o.ctr_prior, o.ctr_prior_weight);
  d[8] = Smoothed(k.total[kClicks], k.total[kImpressions], o.ctr_prior, o.ctr_prior_weight);
  double ratio_sum = 0.0;
  int watched = 0;
  for (const HistoryEntry& h : u.history) {
    if (h.signals & HistoryEntry::kWatched) {
      ratio_sum += h.watch_ratio;
      ++watched;
    }
  }
  d[9] = Smoothed(ratio_sum, watched, o.watch_prior, o.watch_prior_weight);
  d[10] = Log1p(k.total[kLikes]);
  d[11] = static_cast<float>(u.history.size()) / 100.0f;
  d[12] = static_cast<float>(std::sin(kTwoPi * in.hour / 24.0));
  d[13] = static_cast<float>(std::cos(kTwoPi * in.hour / 24.0));
  d[14] = static_cast<float>(std::sin(kTwoPi * in.weekday / 7.0));
  d[15] = static_cast<float>(std::cos(kTwoPi * in.weekday / 7.0));
  return in;
}

VideoInputs TransformVideo(const VideoFeatures& v, const FeatureContext& c, const TransformOptions& o) {
  VideoInputs in;
  in.video = VideoBucket(v.id, o.video_buckets);
  in.category = StringBucket(v.category, o.category_buckets);
  in.creator = v.creator_id == kInvalidId ? 0 : Bucket(static_cast<uint32_t>(SplitMix64(v.creator_id)) | 1, o.creator_buckets);
  in.language = StringBucket(v.language, o.language_buckets);
  if (v.duration_ms > 0) {
    // 1: <15 s, 2: <30 s, 3: <1 min, 4: <2 min, 5: <5 min, 6: <10 min, 7: <30 min, 8: longer.
    static constexpr uint32_t kEdges[] = {15000, 30000, 60000, 120000, 300000, 600000, 1800000};
    in.duration_bucket = 1 + (std::upper_bound(std::begin(kEdges), std::end(kEdges), v.duration_ms) - std::begin(kEdges));
  }
  for (int i = 0; i < kVideoTags && i < static_cast<int>(v.tags.size()); ++i) {
    in.tags[i] = StringBucket(v.tags[i], o.tag_buckets);
  }
  const EngagementCounters& k = v.counters;
  const TimestampMs t = c.now_ms;
  const double age_days = v.known ? std::max(0.0f, Days(t - v.upload_ms)) : 0.0;
  auto& d = in.dense;
  d[0] = Log1p(age_days);
  d[1] = Log1p(v.duration_ms / 1000.0);
  d[2] = Log1p(k.Day(kImpressions, t));
  d[3] = Log1p(k.Week(kImpressions, t));
  d[4] = Log1p(k.total[kImpressions]);
  d[5] = Log1p(k.Day(kClicks, t));
  d[6] = Log1p(k.Week(kClicks, t));
  d[7] = Log1p(k.total[kClicks]);
  d[8] = Smoothed(k.Day(kClicks, t), k.Day(kImpressions, t), o.ctr_prior, o.ctr_prior_weight);
  d[9] = Smoothed(k.Week(kClicks, t), k.Week(kImpressions, t), o.ctr_prior, o.ctr_prior_weight);
  d[10] = Smoothed(k.total[kClicks], k.total[kImpressions], o.ctr_prior, o.ctr_prior_weight);
  const double watched_seconds = k.total[kWatches] * v.duration_ms / 1000.0;
  d[11] = v.duration_ms > 0 ? Smoothed(k.total[kWatchSeconds], watched_seconds, o.watch_prior, o.watch_prior_weight)
                            : o.watch_prior;
  d[12] = Smoothed(k.total[kLikes], k.total[kClicks], 0.1f, 10.0f);
  d[13] = Log1p(k.Week(kWatchSeconds, t));
  d[14] = v.known ? static_cast<float>(std::exp(-age_days / 2.0)) : 0.0f;
  d[15] = v.known ? 1.0f : 0.0f;
  return in;
}

float CategoryAffinityShare(const UserFeatures& user, const VideoFeatures& video) {
  const uint32_t category = CategoryHash(video.category);
  if (category == 0) return 0.0f;
  float total = 0.0f, match = 0.0f;
  for (const CategoryAffinity& a : user.affinity) {
    total += a.week;
    if (a.category == category) match = a.week;
  }
  // Decay to any later time scales numerator and denominator alike, so the share is timeless.
  return total > 0.0f ? match / total : 0.0f;
}

}  // namespace vrec::featurestore
