// Feature transforms: stored features + request context -> model inputs. Training (via the
// point-in-time example builder) and serving (via the store) call these same functions, so a
// model sees identical inputs offline and online. Inputs are plain arrays; the model code in
// retrieval/ and ranking/ copies them into tensors.
//
// Categorical values become hashed ids in [1, buckets); 0 means unknown or padding. A video id
// below buckets - 1 gets its own row (id + 1), so a table sized from the catalog has no
// collisions; larger ids are hashed. Counts
// enter as log1p, rates are smoothed towards a prior, times as log1p(days) and sin/cos cycles.
//
// What the user did is weighted relative to the user's own last event, never to the request
// time: a history entry decays by its age at the user's newest entry, and the category
// affinities are taken as of the user's last engagement. Training examples are built minutes
// after the user's previous event and feeds are served after any idle gap; an input that
// decayed with the serve clock would fade for a user back after months (and differ from
// everything the model was trained on).
#ifndef VREC_FEATURESTORE_TRANSFORMS_H_
#define VREC_FEATURESTORE_TRANSFORMS_H_

#include <array>
#include <cstdint>

#include "common/types.h"
#include "featurestore/features.h"

namespace vrec::featurestore {

// The version of these transforms. A model trained on another version reads different inputs;
// bundles record it (bundle/manifest.h) and loading refuses a mismatch. Version 2: history
// and affinity weights relative to the user's last event (version 1: to the request time).
// Version 3: video ids index rows directly where the table is large enough.
inline constexpr int kTransformVersion = 3;

// Per request: when and where the feed is shown.
struct FeatureContext {
  TimestampMs now_ms = 0;
  Device device = Device::kUnknown;
};

struct TransformOptions {
  uint32_t video_buckets = 1 << 20;    // hashed video-id embedding rows (default 1M)
  uint32_t category_buckets = 1 << 10;
  uint32_t creator_buckets = 1 << 16;
  uint32_t tag_buckets = 1 << 14;
  uint32_t language_buckets = 1 << 7;
  uint32_t country_buckets = 1 << 8;
  float ctr_prior = 0.05f;             // smoothed CTR = (clicks + w * prior) / (impressions + w)
  float ctr_prior_weight = 20.0f;
  float watch_prior = 0.3f;            // smoothed mean watch ratio, same form
  float watch_prior_weight = 5.0f;
};

inline constexpr int kUserDense = 16;
inline constexpr int kUserHistory = 32;
inline constexpr int kUserTopCategories = 4;
inline constexpr int kVideoDense = 16;
inline constexpr int kVideoTags = 4;

// Calls f(slot, entry) for the history entries that fill UserInputs::history, most recent
// first (slot 0), skipping "not interested" entries, at most kUserHistory of them.
template <typename F>
void ForEachHistorySlot(const UserFeatures& u, F f) {
  int slot = 0;
  for (auto it = u.history.rbegin(); it != u.history.rend() && slot < kUserHistory; ++it) {
    if (it->signals & HistoryEntry::kNotInterested) continue;
    f(slot++, *it);
  }
}

struct UserInputs {
  int64_t country = 0;
  int64_t language = 0;
  int64_t age_bucket = 0;   // 0..6
  int64_t device = 0;       // Device
  int64_t hour = 0;         // 0..23 (UTC)
  int64_t weekday = 0;      // 0..6, Monday 0
  std::array<int64_t, kUserHistory> history{};       // hashed video ids, most recent first
  std::array<float, kUserHistory> history_weight{};  // engagement strength, 0 for padding
  std::array<int64_t, kUserTopCategories> top_categories{};
  std::array<float, kUserTopCategories> top_category_weight{};
  std::array<float, kUserDense> dense{};

  bool operator==(const UserInputs& o) const;
};

struct VideoInputs {
  int64_t video = 0;
  int64_t category = 0;
  int64_t creator = 0;
  int64_t language = 0;
  int64_t duration_bucket = 0;  // 1..8 by log duration, 0 unknown
  std::array<int64_t, kVideoTags> tags{};
  std::array<float, kVideoDense> dense{};

  bool operator==(const VideoInputs& o) const;
};

// Row of a video in [1, buckets): id + 1 when it fits, else hashed.
int64_t VideoBucket(VideoId video, uint32_t buckets);

UserInputs TransformUser(const UserFeatures& user, const FeatureContext& context,
                         const TransformOptions& options);
VideoInputs TransformVideo(const VideoFeatures& video, const FeatureContext& context,
                           const TransformOptions& options);
// Cross feature: the user's 7-day affinity for the video's category, as a share of the
// user's total 7-day affinity (0 when unknown).
float CategoryAffinityShare(const UserFeatures& user, const VideoFeatures& video);

}  // namespace vrec::featurestore

#endif  // VREC_FEATURESTORE_TRANSFORMS_H_
