#include "retrieval/trending.h"

#include <algorithm>

namespace vrec {

Trending Trending::FromScores(std::vector<float> scores) {
  Trending t;
  t.counts_ = std::move(scores);
  for (VideoId v = 0; v < t.counts_.size(); ++v) {
    if (t.counts_[v] > 0) t.ranked_.push_back(v);
  }
  std::sort(t.ranked_.begin(), t.ranked_.end(), [&](VideoId a, VideoId b) {
    return t.counts_[a] != t.counts_[b] ? t.counts_[a] > t.counts_[b] : a < b;
  });
  return t;
}

}  // namespace vrec
