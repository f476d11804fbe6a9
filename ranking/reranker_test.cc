#include "ranking/reranker.h"

#include <map>

#include "gtest/gtest.h"

namespace vrec::ranking {
namespace {

RerankOptions NoRules() {
  RerankOptions o;
  o.freshness_boost = 0;
  o.max_same_category = 0;
  o.max_same_creator = 0;
  o.explore_rate = 0;
  return o;
}

TEST(RerankTest, OrdersByScoreWithoutRules) {
  std::vector<RerankInput> in(5);
  for (int i = 0; i < 5; ++i) in[i].score = static_cast<float>(i);
  std::vector<RerankedItem> out;
  Rerank(in, 3, 0, NoRules(), 1, &out);
  ASSERT_EQ(out.size(), 3u);
  EXPECT_EQ(out[0].index, 4u);
  EXPECT_EQ(out[1].index, 3u);
  EXPECT_EQ(out[2].index, 2u);
  for (const RerankedItem& r : out) EXPECT_EQ(r.propensity, 1.0f);
}

TEST(RerankTest, LimitsCategoryAndCreatorRepeatsInTheWindow) {
  // Ten videos of category 7 scored highest, then ten of other categories.
  std::vector<RerankInput> in;
  for (int i = 0; i < 10; ++i) in.push_back({100.0f - i, 7, static_cast<CreatorId>(i), 0, false});
  for (int i = 0; i < 10; ++i) in.push_back({50.0f - i, static_cast<uint32_t>(20 + i), static_cast<CreatorId>(100 + i), 0, false});
  RerankOptions o = NoRules();
  o.max_same_category = 2;
  o.diversity_window = 5;
  std::vector<RerankedItem> out;
  Rerank(in, 10, 0, o, 1, &out);
  ASSERT_EQ(out.size(), 10u);
  for (size_t p = 0; p < out.size(); ++p) {
    int same = 0;
    for (size_t q = p; q < std::min(out.size(), p + 5); ++q) same += in[out[q].index].category == 7;
    EXPECT_LE(same, 2) << "window at " << p;
  }
  EXPECT_EQ(out[0].index, 0u);  // the best stays first
  bool deferred = false;
  for (const RerankedItem& r : out) deferred |= (r.rules & kRuleDiversity) != 0;
  EXPECT_TRUE(deferred);

  // One creator for everything, limit 1 per window of 3: nothing fits after the first, so
  // the best remaining is taken and marked relaxed.
  std::vector<RerankInput> same_creator(4, RerankInput{1.0f, 0, 9, 0, false});
  o = NoRules();
  o.max_same_creator = 1;
  o.diversity_window = 3;
  Rerank(same_creator, 4, 0, o, 1, &out);
  ASSERT_EQ(out.size(), 4u);
  EXPECT_TRUE(out[1].rules & kRuleDiversityRelaxed);
}

TEST(RerankTest, RuleChoiceSwitchesOffOnlyTheDroppedRules) {
  const RerankOptions all;
  const RerankOptions kept = WithRules(all, RuleChoice());
  EXPECT_EQ(kept.max_same_category, all.max_same_category);
  EXPECT_EQ(kept.freshness_boost, all.freshness_boost);
  const RerankOptions no_diversity = WithRules(all, RuleChoice{false, true});
  EXPECT_EQ(no_diversity.max_same_category, 0);
  EXPECT_EQ(no_diversity.max_same_creator, 0);
  EXPECT_EQ(no_diversity.freshness_boost, all.freshness_boost);
  const RerankOptions no_boost = WithRules(all, RuleChoice{true, false});
  EXPECT_EQ(no_boost.freshness_boost, 0.0f);
  EXPECT_EQ(no_boost.max_same_category, all.max_same_category);
  EXPECT_EQ(no_boost.explore_rate, all.explore_rate);
  EXPECT_EQ(WithRules(all, RuleChoice{true, true, false}).explore_rate, 0.0);
  EXPECT_TRUE(no_boost.Validate().ok());
}

TEST(RerankTest, FreshnessBoostLiftsANewUploadPastAnOlderOne) {
  const TimestampMs now = 100 * kMsPerDay;
  std::vector<RerankInput> in = {{1.0f, 0, kInvalidId, now - 50 * kMsPerDay, false},
                                 {0.95f, 0, kInvalidId, now - kMsPerHour, false}};
  RerankOptions o = NoRules();
  o.freshness_boost = 0.2f;
  std::vector<RerankedItem> out;
  Rerank(in, 2, now, o, 1, &out);
  EXPECT_EQ(out[0].index, 1u);
  EXPECT_TRUE(out[0].rules & kRuleFreshnessBoost);
  EXPECT_FALSE(out[1].rules & kRuleFreshnessBoost);
}

TEST(RerankTest, ExplorationPutsAFreshVideoInItsSlotAtTheConfiguredRate) {
  std::vector<RerankInput> in;
  for (int i = 0; i < 30; ++i) in.push_back({100.0f - i, 0, kInvalidId, 0, i >= 10});
  RerankOptions o = NoRules();
  o.explore_rate = 0.25;
  o.explore_position = 2;
  o.explore_pool = 5;
  std::vector<RerankedItem> out;
  int explored = 0;
  std::map<uint32_t, int> picked;
  const int kRequests = 4000;
  for (int seed = 0; seed < kRequests; ++seed) {
    Rerank(in, 8, 0, o, seed, &out);
    ASSERT_EQ(out.size(), 8u);
    EXPECT_EQ(out[0].propensity, 1.0f);
    if (out[2].rules & kRuleExplore) {
      ++explored;
      ++picked[out[2].index];
      EXPECT_TRUE(in[out[2].index].fresh);
      EXPECT_GE(out[2].index, 10u);  // never one already in the slate
      EXPECT_FLOAT_EQ(out[2].propensity, 0.25f / 5);
      EXPECT_FLOAT_EQ(out[3].propensity, 0.25f);
    } else {
      EXPECT_FLOAT_EQ(out[2].propensity, 0.75f);
    }
  }
  EXPECT_NEAR(explored / double(kRequests), 0.25, 0.03);
  EXPECT_EQ(picked.size(), 5u);  // uniform over the pool of 5
  // Same seed, same slate.
  std::vector<RerankedItem> again;
  Rerank(in, 8, 0, o, 17, &out);
  Rerank(in, 8, 0, o, 17, &again);
  for (size_t i = 0; i < out.size(); ++i) EXPECT_EQ(out[i].index, again[i].index);
}

TEST(RerankTest, ValidatesOptions) {
  RerankOptions o;
  EXPECT_TRUE(o.Validate().ok());
  o.explore_rate = 1.5;
  EXPECT_FALSE(o.Validate().ok());
  o = RerankOptions();
  o.diversity_window = 0;
  EXPECT_FALSE(o.Validate().ok());
}

}  // namespace
}  // namespace vrec::ranking
