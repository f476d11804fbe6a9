// Which videos each user has engaged with (click, watch, like, share), built from the event
// log. The serving skeleton uses it to leave already-watched videos out of the feed; the
// RocksDB feature store (recent history with times and watch ratios) supersedes it.
#ifndef VREC_FEATURESTORE_WATCH_HISTORY_H_
#define VREC_FEATURESTORE_WATCH_HISTORY_H_

#include <cstdint>
#include <utility>
#include <vector>

#include "absl/types/span.h"
#include "common/types.h"

namespace vrec {

// Compressed rows: per user, a sorted list of distinct videos. Immutable once built; safe to
// share across threads. About 4 bytes per (user, video) pair.
class WatchHistory {
 public:
  WatchHistory() = default;
  // The user's engaged videos, sorted ascending; empty for unknown users.
  absl::Span<const VideoId> Videos(UserId user) const {
    if (user + size_t{1} >= offsets_.size()) return {};
    return absl::Span<const VideoId>(videos_.data() + offsets_[user], offsets_[user + 1] - offsets_[user]);
  }
  bool Contains(UserId user, VideoId video) const;
  size_t num_pairs() const { return videos_.size(); }

 private:
  friend class WatchHistoryBuilder;
  std::vector<uint64_t> offsets_;  // by user id, size = user limit + 1
  std::vector<VideoId> videos_;
};

// Not thread-safe.
class WatchHistoryBuilder {
 public:
  void Add(const Event& event) {
    if (IsEngagement(event.type)) pairs_.emplace_back(event.user_id, event.video_id);
  }
  WatchHistory Build() &&;

 private:
  std::vector<std::pair<UserId, VideoId>> pairs_;
};

}  // namespace vrec

#endif  // VREC_FEATURESTORE_WATCH_HISTORY_H_
