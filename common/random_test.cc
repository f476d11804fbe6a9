#include "common/random.h"

#include <vector>

#include "gtest/gtest.h"

namespace vrec {
namespace {

TEST(RandomTest, SameSeedSameStream) {
  Rng a(123), b(123), c(124);
  bool differs = false;
  for (int i = 0; i < 100; ++i) {
    const uint64_t x = a.Next();
    EXPECT_EQ(x, b.Next());
    differs |= x != c.Next();
  }
  EXPECT_TRUE(differs);
}

TEST(RandomTest, DistributionMoments) {
  Rng rng(5);
  constexpr int kN = 200000;
  double sum = 0, sum_sq = 0, gamma_sum = 0;
  for (int i = 0; i < kN; ++i) {
    const double x = rng.Normal();
    sum += x;
    sum_sq += x * x;
    gamma_sum += rng.Gamma(0.5);
  }
  EXPECT_NEAR(sum / kN, 0.0, 0.02);
  EXPECT_NEAR(sum_sq / kN, 1.0, 0.02);
  EXPECT_NEAR(gamma_sum / kN, 0.5, 0.02);
  for (int i = 0; i < 1000; ++i) EXPECT_LT(rng.UniformInt(7), 7u);
}

TEST(RandomTest, AliasTableMatchesWeights) {
  AliasTable table({1.0, 0.0, 3.0, 6.0});
  Rng rng(9);
  std::vector<int> counts(4, 0);
  constexpr int kN = 100000;
  for (int i = 0; i < kN; ++i) ++counts[table.Sample(rng)];
  EXPECT_EQ(counts[1], 0);
  EXPECT_NEAR(counts[0] / double(kN), 0.1, 0.01);
  EXPECT_NEAR(counts[2] / double(kN), 0.3, 0.01);
  EXPECT_NEAR(counts[3] / double(kN), 0.6, 0.01);
}

}  // namespace
}  // namespace vrec
