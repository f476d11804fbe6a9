#include "retrieval/trending.h"

#include <algorithm>

namespace vrec::retrieval {

Trending Trending::FromScores(std::vector<float> scores) {
  Trending t;
  t.counts_ = std::move(scores);
  for (VideoId v = 0; v < t.counts_.size(); ++v) {
    if (t.counts_[v] > 0) t.ranked_.push_back(v);
  }
  std::sort(t.ranked_.begin(), t.ranked_.end(), [&](VideoId a, VideoId b) {
    return t.counts_[a] != t.counts_[b] ? t.counts_[a] > t.counts_[b] : a < b;
  });
  t.rank_.assign(t.counts_.size(), 0);
  for (size_t r = 0; r < t.ranked_.size(); ++r) t.rank_[t.ranked_[r]] = static_cast<uint32_t>(r + 1);
  return t;
}

void TopRanks(const std::vector<float>& scores, size_t cap, absl::flat_hash_map<VideoId, uint32_t>* out) {
  out->clear();
  thread_local std::vector<VideoId> ranked;
  ranked.clear();
  for (VideoId v = 0; v < scores.size(); ++v) {
    if (scores[v] > 0) ranked.push_back(v);
  }
  const auto better = [&](VideoId a, VideoId b) { return scores[a] != scores[b] ? scores[a] > scores[b] : a < b; };
  const size_t n = std::min(cap, ranked.size());
  std::partial_sort(ranked.begin(), ranked.begin() + n, ranked.end(), better);
  for (size_t r = 0; r < n; ++r) out->emplace(ranked[r], static_cast<uint32_t>(r + 1));
}

}  // namespace vrec::retrieval
