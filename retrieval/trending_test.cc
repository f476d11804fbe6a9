#include "retrieval/trending.h"

#include "gtest/gtest.h"

namespace vrec {
namespace {

Event E(TimestampMs t, VideoId v, EventType type = EventType::kClick) {
  Event e;
  e.timestamp_ms = t;
  e.video_id = v;
  e.type = type;
  return e;
}

TEST(TrendingTest, CountsOnlyEngagementInsideTheWindow) {
  TrendingOptions options;
  options.as_of_ms = 100;
  options.window_ms = 50;
  TrendingBuilder builder(options);
  builder.AddAll({E(10, 1), E(10, 1), E(10, 1),          // before the window
                  E(60, 2), E(70, 2), E(80, 3),          // inside
                  E(90, 4, EventType::kImpression),      // not engagement
                  E(100, 5), E(200, 5)});                // at or after as_of
  Trending t = std::move(builder).Build();
  EXPECT_EQ(t.ranked(), (std::vector<VideoId>{2, 3}));
  EXPECT_EQ(t.count(2), 2.0f);
  EXPECT_EQ(t.count(1), 0.0f);
  EXPECT_EQ(t.count(999), 0.0f);
}

TEST(TrendingTest, TopSkipsExcludedVideos) {
  TrendingBuilder builder({});
  for (VideoId v = 0; v < 6; ++v) {
    for (VideoId i = 0; i <= v; ++i) builder.Add(E(1, v));
  }
  Trending t = std::move(builder).Build();
  std::vector<VideoId> out;
  const std::vector<VideoId> exclude = {4, 5};
  t.Top(3, exclude, [](VideoId v) { return v == 2; }, &out);
  EXPECT_EQ(out, (std::vector<VideoId>{3, 1, 0}));
}

}  // namespace
}  // namespace vrec

namespace vrec {
namespace {

TEST(TrendingTest, FromScoresRanksPositiveScores) {
  Trending t = Trending::FromScores({0.0f, 2.5f, -1.0f, 7.0f, 2.5f});
  EXPECT_EQ(t.ranked(), (std::vector<VideoId>{3, 1, 4}));
  EXPECT_EQ(t.count(3), 7.0f);
}

}  // namespace
}  // namespace vrec
