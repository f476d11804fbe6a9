#include "common/metrics.h"

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

TEST(ClassificationMetricsTest, AucAndLogLoss) {
  const float perfect[] = {0.1f, 0.2f, 0.8f, 0.9f};
  const uint8_t labels[] = {0, 0, 1, 1};
  EXPECT_DOUBLE_EQ(Auc(perfect, labels), 1.0);
  const float inverted[] = {0.9f, 0.8f, 0.2f, 0.1f};
  EXPECT_DOUBLE_EQ(Auc(inverted, labels), 0.0);
  const float tied[] = {0.5f, 0.5f, 0.5f, 0.5f};
  EXPECT_DOUBLE_EQ(Auc(tied, labels), 0.5);
  const float mixed[] = {0.1f, 0.7f, 0.6f, 0.9f};  // one of four pairs misordered
  EXPECT_DOUBLE_EQ(Auc(mixed, labels), 0.75);
  const uint8_t none[] = {0, 0, 0, 0};
  EXPECT_DOUBLE_EQ(Auc(perfect, none), 0.5);
  const float half[] = {0.5f, 0.5f};
  const uint8_t one_each[] = {0, 1};
  EXPECT_NEAR(LogLoss(half, one_each), std::log(2.0), 1e-9);
  const float sure[] = {0.0f, 1.0f};
  EXPECT_LT(LogLoss(sure, one_each), 1e-6);
}

}  // namespace
}  // namespace vrec
