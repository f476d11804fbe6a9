#include "featurestore/watch_history.h"

#include "gtest/gtest.h"

namespace vrec {
namespace {

Event E(UserId u, VideoId v, EventType type) {
  Event e;
  e.user_id = u;
  e.video_id = v;
  e.type = type;
  return e;
}

TEST(WatchHistoryTest, KeepsDistinctEngagedVideosPerUser) {
  WatchHistoryBuilder builder;
  builder.Add(E(3, 9, EventType::kWatch));
  builder.Add(E(3, 2, EventType::kClick));
  builder.Add(E(3, 9, EventType::kLike));
  builder.Add(E(3, 5, EventType::kImpression));  // not engagement
  builder.Add(E(1, 4, EventType::kShare));
  WatchHistory h = std::move(builder).Build();
  EXPECT_EQ(std::vector<VideoId>(h.Videos(3).begin(), h.Videos(3).end()), (std::vector<VideoId>{2, 9}));
  EXPECT_TRUE(h.Contains(1, 4));
  EXPECT_FALSE(h.Contains(3, 5));
  EXPECT_TRUE(h.Videos(0).empty());
  EXPECT_TRUE(h.Videos(1000).empty());  // unknown user
  EXPECT_EQ(h.num_pairs(), 3u);
}

}  // namespace
}  // namespace vrec
