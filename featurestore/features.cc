#include "featurestore/features.h"

#include <algorithm>
#include <cmath>

#include "absl/container/flat_hash_set.h"

namespace vrec::featurestore {
namespace {

float Decay(TimestampMs elapsed_ms, TimestampMs window_ms) {
  return elapsed_ms <= 0 ? 1.0f
                         : static_cast<float>(std::exp(-static_cast<double>(elapsed_ms) / window_ms));
}

// How much an event says the user likes a video's category.
float AffinityWeight(const Event& e, float watch_ratio) {
  switch (e.type) {
    case EventType::kClick: return 1.0f;
    case EventType::kWatch: return watch_ratio;
    case EventType::kLike:
    case EventType::kShare: return 2.0f;
    default: return 0.0f;
  }
}

void UpdateAffinity(uint32_t category, float weight, TimestampMs t, const FeatureUpdateOptions& o,
                    UserFeatures* user) {
  if (category == 0 || weight <= 0.0f) return;
  float scale = 1.0f;  // brings this event's weight to the affinity's reference time
  if (t > user->affinity_ms) {
    const float decay = Decay(t - user->affinity_ms, kWeekWindowMs);
    for (CategoryAffinity& a : user->affinity) a.week *= decay;
    user->affinity_ms = t;
  } else {
    scale = Decay(user->affinity_ms - t, kWeekWindowMs);
  }
  auto it = std::find_if(user->affinity.begin(), user->affinity.end(),
                         [&](const CategoryAffinity& a) { return a.category == category; });
  if (it == user->affinity.end()) {
    if (user->affinity.size() >= o.max_categories) {
      // A new interest always enters; the weakest recent one makes room.
      auto weakest = std::min_element(user->affinity.begin(), user->affinity.end(),
                                      [](const CategoryAffinity& a, const CategoryAffinity& b) {
                                        return a.week < b.week;
                                      });
      user->affinity.erase(weakest);
    }
    user->affinity.push_back({category, 0.0f, 0.0f});
    it = user->affinity.end() - 1;
  }
  it->week += weight * scale;
  it->total += weight;
}

}  // namespace

void EngagementCounters::Add(CounterMetric metric, double amount, TimestampMs time_ms) {
  if (time_ms > updated_ms) {
    const float day_decay = Decay(time_ms - updated_ms, kDayWindowMs);
    const float week_decay = Decay(time_ms - updated_ms, kWeekWindowMs);
    for (int m = 0; m < kNumMetrics; ++m) {
      day[m] *= day_decay;
      week[m] *= week_decay;
    }
    updated_ms = time_ms;
  }
  day[metric] += static_cast<float>(amount * Decay(updated_ms - time_ms, kDayWindowMs));
  week[metric] += static_cast<float>(amount * Decay(updated_ms - time_ms, kWeekWindowMs));
  total[metric] += amount;
}

float EngagementCounters::Day(CounterMetric metric, TimestampMs now_ms) const {
  return day[metric] * Decay(now_ms - updated_ms, kDayWindowMs);
}

float EngagementCounters::Week(CounterMetric metric, TimestampMs now_ms) const {
  return week[metric] * Decay(now_ms - updated_ms, kWeekWindowMs);
}

const HistoryEntry* UserFeatures::FindHistory(VideoId video) const {
  for (auto it = history.rbegin(); it != history.rend(); ++it) {
    if (it->video_id == video) return &*it;
  }
  return nullptr;
}

uint32_t CategoryHash(absl::string_view text) {
  if (text.empty()) return 0;
  uint32_t h = 2166136261u;
  for (unsigned char c : text) {
    h ^= c;
    h *= 16777619u;
  }
  return h == 0 ? 1 : h;
}

VideoFeatures VideoFeaturesFromCatalog(const Video& video) {
  VideoFeatures f;
  f.id = video.id;
  f.known = true;
  f.category = video.category;
  f.tags.assign(video.tags.begin(),
                video.tags.begin() + std::min(video.tags.size(), VideoFeatures::kMaxTags));
  f.creator_id = video.creator_id;
  f.duration_ms = video.duration_ms;
  f.language = video.language;
  f.upload_ms = video.upload_ms;
  return f;
}

UserFeatures UserFeaturesFromCatalog(const User& user) {
  UserFeatures f;
  f.id = user.id;
  f.known = true;
  f.country = user.country;
  f.language = user.language;
  f.age_bucket = user.age_bucket;
  f.signup_ms = user.signup_ms;
  return f;
}

void SeenVideos(const UserFeatures& user, std::vector<VideoId>* out) {
  out->clear();
  out->reserve(user.history.size() + user.earlier.size());
  for (const EarlierVideo& e : user.earlier) out->push_back(e.video);
  for (const HistoryEntry& h : user.history) out->push_back(h.video_id);
  std::sort(out->begin(), out->end());
  out->erase(std::unique(out->begin(), out->end()), out->end());
}

void EngagedVideos(const UserFeatures& user, std::vector<VideoId>* out) {
  out->clear();
  for (const EarlierVideo& e : user.earlier) {
    if (e.engaged) out->push_back(e.video);
  }
  for (const HistoryEntry& h : user.history) {
    if (IsEngagedEntry(h)) out->push_back(h.video_id);
  }
  if (user.earlier.empty()) return;  // history entries are unique
  // A video that left the history and came back appears twice: keep its latest place.
  thread_local absl::flat_hash_set<VideoId> kept;
  kept.clear();
  size_t w = out->size();
  for (size_t i = out->size(); i-- > 0;) {
    if (kept.insert((*out)[i]).second) (*out)[--w] = (*out)[i];
  }
  out->erase(out->begin(), out->begin() + w);
}

void ApplyEvent(const Event& e, const FeatureUpdateOptions& o, UserFeatures* user,
                VideoFeatures* video) {
  const TimestampMs t = e.timestamp_ms;
  user->last_active_ms = std::max(user->last_active_ms, t);
  float watch_ratio = 0.0f;
  switch (e.type) {
    case EventType::kImpression:
      user->counters.Add(kImpressions, 1, t);
      video->counters.Add(kImpressions, 1, t);
      return;  // impressions do not enter the history
    case EventType::kClick:
      user->counters.Add(kClicks, 1, t);
      video->counters.Add(kClicks, 1, t);
      break;
    case EventType::kWatch:
      if (video->duration_ms > 0) {
        watch_ratio = std::min(1.0f, static_cast<float>(e.watch_time_ms) / video->duration_ms);
      }
      user->counters.Add(kWatches, 1, t);
      video->counters.Add(kWatches, 1, t);
      user->counters.Add(kWatchSeconds, e.watch_time_ms / 1000.0, t);
      video->counters.Add(kWatchSeconds, e.watch_time_ms / 1000.0, t);
      break;
    case EventType::kLike:
      user->counters.Add(kLikes, 1, t);
      video->counters.Add(kLikes, 1, t);
      break;
    default:
      break;
  }
  UpdateAffinity(CategoryHash(video->category), AffinityWeight(e, watch_ratio), t, o, user);

  // Upsert the video in the user's history (recent entries are searched from the back).
  HistoryEntry* entry = nullptr;
  for (auto it = user->history.rbegin(); it != user->history.rend(); ++it) {
    if (it->video_id == e.video_id) {
      entry = &*it;
      break;
    }
  }
  if (entry == nullptr) {
    if (o.history_length == 0) return;
    if (user->history.size() >= o.history_length) {
      const HistoryEntry& oldest = user->history.front();
      if (o.earlier_length > 0) {
        if (user->earlier.size() >= o.earlier_length) user->earlier.erase(user->earlier.begin());
        user->earlier.push_back({oldest.video_id, IsEngagedEntry(oldest)});
      }
      user->history.erase(user->history.begin());
    }
    user->history.push_back({e.video_id, t, 0.0f, 0});
    entry = &user->history.back();
  }
  entry->time_ms = std::max(entry->time_ms, t);
  switch (e.type) {
    case EventType::kClick: entry->signals |= HistoryEntry::kClicked; break;
    case EventType::kWatch:
      entry->signals |= HistoryEntry::kWatched;
      entry->watch_ratio = std::max(entry->watch_ratio, watch_ratio);
      break;
    case EventType::kLike: entry->signals |= HistoryEntry::kLiked; break;
    case EventType::kShare: entry->signals |= HistoryEntry::kShared; break;
    case EventType::kSkip: entry->signals |= HistoryEntry::kSkipped; break;
    case EventType::kNotInterested: entry->signals |= HistoryEntry::kNotInterested; break;
    default: break;
  }
}

}  // namespace vrec::featurestore
