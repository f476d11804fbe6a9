#include "tools/metrics.h"

#include <cmath>

#include "gtest/gtest.h"

namespace vrec {
namespace {

TEST(MetricsTest, PerfectAndEmptyRankings) {
  const Relevance relevance = {{3, 1}, {7, 3}};
  RankingMetrics perfect = ScoreRanking(std::vector<VideoId>{7, 3, 9}, relevance, 10);
  EXPECT_DOUBLE_EQ(perfect.ndcg, 1.0);
  EXPECT_DOUBLE_EQ(perfect.recall, 1.0);
  EXPECT_DOUBLE_EQ(perfect.hit, 1.0);
  EXPECT_DOUBLE_EQ(perfect.ap, 1.0);
  RankingMetrics none = ScoreRanking(std::vector<VideoId>{1, 2}, relevance, 10);
  EXPECT_DOUBLE_EQ(none.ndcg, 0.0);
  EXPECT_DOUBLE_EQ(none.hit, 0.0);
}

TEST(MetricsTest, HandComputedValues) {
  const Relevance relevance = {{3, 1}, {7, 3}};
  // Relevant items at ranks 2 (grade 1) and 4 (grade 3); k = 4.
  RankingMetrics m = ScoreRanking(std::vector<VideoId>{1, 3, 2, 7, 8}, relevance, 4);
  const double dcg = 1.0 / std::log2(3.0) + 7.0 / std::log2(5.0);
  const double ideal = 7.0 + 1.0 / std::log2(3.0);
  EXPECT_NEAR(m.ndcg, dcg / ideal, 1e-12);
  EXPECT_DOUBLE_EQ(m.recall, 1.0);
  EXPECT_NEAR(m.ap, (1.0 / 2 + 2.0 / 4) / 2, 1e-12);
  // k = 2 cuts the second hit.
  RankingMetrics cut = ScoreRanking(std::vector<VideoId>{1, 3, 2, 7}, relevance, 2);
  EXPECT_DOUBLE_EQ(cut.recall, 0.5);
  EXPECT_NEAR(cut.ap, (1.0 / 2) / 2, 1e-12);
}

TEST(MetricsTest, AccumulatorAverages) {
  MetricsAccumulator a, b;
  a.Add({1.0, 1.0, 1.0, 1.0});
  b.Add({0.0, 0.5, 0.0, 0.0});
  a.Merge(b);
  EXPECT_EQ(a.count(), 2u);
  EXPECT_DOUBLE_EQ(a.Mean().ndcg, 0.5);
  EXPECT_DOUBLE_EQ(a.Mean().recall, 0.75);
}

}  // namespace
}  // namespace vrec
