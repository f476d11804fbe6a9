#include "retrieval/trending.h"

#include "gtest/gtest.h"

namespace vrec::retrieval {
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
}  // namespace vrec::retrieval

namespace vrec::retrieval {
namespace {

TEST(TrendingTest, FromScoresRanksPositiveScores) {
  Trending t = Trending::FromScores({0.0f, 2.5f, -1.0f, 7.0f, 2.5f});
  EXPECT_EQ(t.ranked(), (std::vector<VideoId>{3, 1, 4}));
  EXPECT_EQ(t.count(3), 7.0f);
  EXPECT_EQ(t.rank(3), 1u);
  EXPECT_EQ(t.rank(4), 3u);
  EXPECT_EQ(t.rank(0), 0u);   // no score: not ranked
  EXPECT_EQ(t.rank(99), 0u);  // unknown
}

TEST(TrendingTest, TopRanksAgreesWithTheFullRanking) {
  std::vector<float> scores;
  for (int v = 0; v < 500; ++v) scores.push_back(static_cast<float>((v * 37) % 101));  // ties and zeros
  const Trending t = Trending::FromScores(scores);
  absl::flat_hash_map<VideoId, uint32_t> top;
  TopRanks(scores, 50, &top);
  ASSERT_EQ(top.size(), 50u);
  for (VideoId v = 0; v < scores.size(); ++v) {
    const auto it = top.find(v);
    if (t.rank(v) >= 1 && t.rank(v) <= 50) {
      ASSERT_NE(it, top.end()) << v;
      EXPECT_EQ(it->second, t.rank(v)) << v;
    } else {
      EXPECT_EQ(it, top.end()) << v;
    }
  }
}

}  // namespace
}  // namespace vrec::retrieval
