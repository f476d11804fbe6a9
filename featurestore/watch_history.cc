#include "featurestore/watch_history.h"

#include <algorithm>

namespace vrec {

bool WatchHistory::Contains(UserId user, VideoId video) const {
  const absl::Span<const VideoId> videos = Videos(user);
  return std::binary_search(videos.begin(), videos.end(), video);
}

WatchHistory WatchHistoryBuilder::Build() && {
  std::sort(pairs_.begin(), pairs_.end());
  pairs_.erase(std::unique(pairs_.begin(), pairs_.end()), pairs_.end());
  WatchHistory h;
  const size_t users = pairs_.empty() ? 0 : size_t{pairs_.back().first} + 1;
  h.offsets_.assign(users + 1, 0);
  h.videos_.reserve(pairs_.size());
  for (const auto& [user, video] : pairs_) {
    ++h.offsets_[user + 1];
    h.videos_.push_back(video);
  }
  for (size_t u = 0; u < users; ++u) h.offsets_[u + 1] += h.offsets_[u];
  std::vector<std::pair<UserId, VideoId>>().swap(pairs_);
  return h;
}

}  // namespace vrec
