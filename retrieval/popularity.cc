#include "retrieval/popularity.h"

#include <algorithm>
#include <tuple>

#include "common/status.h"

namespace vrec::retrieval {
namespace {

// Decayed 1-day engagement below this (a tenth of one engagement, i.e. nothing in the last
// ~2 days) does not count as trending.
constexpr float kMinTrendingScore = 0.1f;

}  // namespace

float TrendingScore(const featurestore::VideoFeatures& v, TimestampMs now_ms) {
  const featurestore::EngagementCounters& c = v.counters;
  const float recent = c.Day(featurestore::kClicks, now_ms) + c.Day(featurestore::kWatches, now_ms) +
                       c.Day(featurestore::kLikes, now_ms);
  return recent >= kMinTrendingScore ? recent : 0.0f;
}

float PopularScore(const featurestore::VideoFeatures& v) {
  return static_cast<float>(v.counters.total[featurestore::kClicks]);
}

void PointInTimePopularityScores(const Catalog& catalog, const featurestore::FeatureReplay& replay, TimestampMs now_ms,
                                 std::vector<float>* trending, std::vector<float>* popular) {
  trending->assign(catalog.videos().size(), 0.0f);
  popular->assign(catalog.videos().size(), 0.0f);
  for (const Video& v : catalog.videos()) {
    if (v.id >= trending->size()) {
      trending->resize(size_t{v.id} + 1, 0.0f);
      popular->resize(size_t{v.id} + 1, 0.0f);
    }
    const featurestore::VideoFeatures& features = replay.video(v.id);
    (*trending)[v.id] = TrendingScore(features, now_ms);
    (*popular)[v.id] = PopularScore(features);
  }
}

absl::StatusOr<PopularitySnapshot> BuildPopularitySnapshot(const featurestore::FeatureView& store, TimestampMs now_ms,
                                                           const PopularityOptions& options) {
  std::vector<float> trending, popular;
  auto fresh = std::make_shared<std::vector<FreshVideo>>();
  VREC_RETURN_IF_ERROR(store.ForEachVideo([&](const featurestore::VideoFeatures& v) {
    if (v.id >= trending.size()) {
      trending.resize(size_t{v.id} + 1, 0.0f);
      popular.resize(size_t{v.id} + 1, 0.0f);
    }
    trending[v.id] = TrendingScore(v, now_ms);
    popular[v.id] = PopularScore(v);
    // Uploads after now_ms are kept: the fresh source checks upload times per request.
    if (v.known && v.upload_ms >= now_ms - options.fresh_window_ms) fresh->push_back({v.id, v.upload_ms});
    return absl::OkStatus();
  }));
  std::sort(fresh->begin(), fresh->end(), [](const FreshVideo& a, const FreshVideo& b) {
    return std::tie(b.upload_ms, a.video) < std::tie(a.upload_ms, b.video);
  });
  PopularitySnapshot snapshot;
  snapshot.as_of_ms = now_ms;
  snapshot.trending = std::make_shared<const Trending>(Trending::FromScores(std::move(trending)));
  snapshot.popular = std::make_shared<const Trending>(Trending::FromScores(std::move(popular)));
  snapshot.fresh = std::move(fresh);
  return snapshot;
}

}  // namespace vrec::retrieval
