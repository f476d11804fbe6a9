// Popularity over a time window: the "trending" candidate source, the most-popular and
// recent-popular replay baselines, and (until the models land) the whole feed.
#ifndef VREC_RETRIEVAL_TRENDING_H_
#define VREC_RETRIEVAL_TRENDING_H_

#include <cstdint>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/types/span.h"
#include "common/types.h"

namespace vrec::retrieval {

struct TrendingOptions {
  // Only events in [as_of_ms - window_ms, as_of_ms) count; window_ms 0 means all time before
  // as_of_ms. Defaults: all time, as of the end of time.
  TimestampMs as_of_ms = INT64_MAX;
  TimestampMs window_ms = 0;
};

// Videos ranked by an engagement score: a count of engagements (click, watch, like, share)
// in a window, or any score given to FromScores. Immutable once built; safe to share across
// threads.
class Trending {
 public:
  Trending() = default;
  // Ranks the videos with a positive score; scores[v] is video v's score.
  static Trending FromScores(std::vector<float> scores);

  // Videos with a positive score, best first (ties: lower id first).
  const std::vector<VideoId>& ranked() const { return ranked_; }
  // Score of `video` (its engagement count in the window), 0 if none or unknown.
  float count(VideoId video) const { return video < counts_.size() ? counts_[video] : 0.0f; }
  // 1-based rank of `video` in ranked(), 0 if it is not ranked.
  uint32_t rank(VideoId video) const { return video < rank_.size() ? rank_[video] : 0; }

  // Appends to `out` up to `n` videos in rank order, skipping those in `sorted_exclude`
  // (sorted ascending) and those for which `skip(video)` is true.
  template <typename Skip>
  void Top(size_t n, absl::Span<const VideoId> sorted_exclude, Skip skip,
           std::vector<VideoId>* out) const;
  void Top(size_t n, absl::Span<const VideoId> sorted_exclude, std::vector<VideoId>* out) const {
    Top(n, sorted_exclude, [](VideoId) { return false; }, out);
  }

 private:
  std::vector<float> counts_;
  std::vector<VideoId> ranked_;
  std::vector<uint32_t> rank_;  // by video id
};

// The 1-based ranks of the best `cap` videos with a positive score, in Trending::FromScores's
// order (score, then lower id): for callers that need only the head of a ranking, many times
// over (the ranker's training rebuilds the trending ranks hour by hour).
void TopRanks(const std::vector<float>& scores, size_t cap, absl::flat_hash_map<VideoId, uint32_t>* out);

// Accumulates events into a Trending. Not thread-safe.
class TrendingBuilder {
 public:
  explicit TrendingBuilder(const TrendingOptions& options) : options_(options) {}
  void Add(const Event& event) {
    if (!IsEngagement(event.type) || event.timestamp_ms >= options_.as_of_ms) return;
    if (options_.window_ms > 0 && event.timestamp_ms < options_.as_of_ms - options_.window_ms) {
      return;
    }
    if (event.video_id >= counts_.size()) {
      counts_.resize(std::max<size_t>(size_t{event.video_id} + 1, counts_.size() * 2), 0.0f);
    }
    counts_[event.video_id] += 1.0f;
  }
  void AddAll(absl::Span<const Event> events) {
    for (const Event& e : events) Add(e);
  }
  Trending Build() && { return Trending::FromScores(std::move(counts_)); }

 private:
  TrendingOptions options_;
  std::vector<float> counts_;
};

template <typename Skip>
void Trending::Top(size_t n, absl::Span<const VideoId> sorted_exclude, Skip skip,
                   std::vector<VideoId>* out) const {
  const size_t target = out->size() + n;
  for (VideoId v : ranked_) {
    if (out->size() >= target) return;
    if (std::binary_search(sorted_exclude.begin(), sorted_exclude.end(), v) || skip(v)) continue;
    out->push_back(v);
  }
}

}  // namespace vrec::retrieval

#endif  // VREC_RETRIEVAL_TRENDING_H_
