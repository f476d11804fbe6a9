#include "ranking/cross_features.h"

#include <cmath>

#include "gtest/gtest.h"

namespace vrec::ranking {
namespace {

featurestore::UserFeatures User() {
  featurestore::UserFeatures u;
  u.language = "en";
  u.affinity = {{featurestore::CategoryHash("music"), 3.0f, 5.0f}, {featurestore::CategoryHash("news"), 1.0f, 1.0f}};
  for (VideoId v = 1; v <= 4; ++v) {
    featurestore::HistoryEntry h;
    h.video_id = v;
    h.watch_ratio = 0.25f * v;
    u.history.push_back(h);
  }
  return u;
}

featurestore::VideoFeatures Video(const std::string& category, CreatorId creator, const std::string& language) {
  featurestore::VideoFeatures v;
  v.category = category;
  v.creator_id = creator;
  v.language = language;
  return v;
}

SourceSignals Scored(float retrieval_score) {
  SourceSignals s;
  s.retrieval_score = retrieval_score;
  s.has_retrieval_score = true;
  return s;
}

TEST(CrossFeaturesTest, CategoryCreatorAndLanguage) {
  const featurestore::UserFeatures user = User();
  const CreatorId creators[] = {7, 7, 8, kInvalidId};  // history videos 1, 2 by creator 7
  const UserCrossContext context(user, creators);

  const CrossInputs music = context.Make(Video("music", 7, "en"), 0, Scored(0.4f));
  EXPECT_FLOAT_EQ(music.dense[kCrossCategoryShare], 0.75f);
  EXPECT_FLOAT_EQ(music.dense[kCrossCategoryRank], 1.0f);
  EXPECT_FLOAT_EQ(music.dense[kCrossCreatorCount], std::log1p(2.0f));
  EXPECT_FLOAT_EQ(music.dense[kCrossCreatorShare], 0.5f);
  EXPECT_FLOAT_EQ(music.dense[kCrossCreatorWatch], (0.25f + 0.5f) / 2);
  EXPECT_FLOAT_EQ(music.dense[kCrossRetrievalScore], 0.4f);
  EXPECT_FLOAT_EQ(music.dense[kCrossHasRetrievalScore], 1.0f);
  EXPECT_FLOAT_EQ(music.dense[kCrossLanguageMatch], 1.0f);

  const CrossInputs news = context.Make(Video("news", 8, "de"), 0, SourceSignals());
  EXPECT_FLOAT_EQ(news.dense[kCrossCategoryShare], 0.25f);
  EXPECT_FLOAT_EQ(news.dense[kCrossCategoryRank], 0.5f);
  EXPECT_FLOAT_EQ(news.dense[kCrossCreatorShare], 0.25f);
  EXPECT_FLOAT_EQ(news.dense[kCrossRetrievalScore], 0.0f);  // unknown score is 0
  EXPECT_FLOAT_EQ(news.dense[kCrossHasRetrievalScore], 0.0f);
  EXPECT_FLOAT_EQ(news.dense[kCrossLanguageMatch], 0.0f);

  const CrossInputs unknown = context.Make(featurestore::VideoFeatures(), 0, SourceSignals());
  EXPECT_FLOAT_EQ(unknown.dense[kCrossCategoryShare], 0.0f);
  EXPECT_FLOAT_EQ(unknown.dense[kCrossCreatorCount], 0.0f);
  EXPECT_FLOAT_EQ(unknown.dense[kCrossLanguageMatch], 0.5f);
}

TEST(CrossFeaturesTest, ColdStartUserHasNeutralCrossFeatures) {
  const UserCrossContext context(featurestore::UserFeatures(), {});
  const CrossInputs c = context.Make(Video("music", 7, "en"), 0, Scored(0.1f));
  EXPECT_FLOAT_EQ(c.dense[kCrossCategoryShare], 0.0f);
  EXPECT_FLOAT_EQ(c.dense[kCrossCreatorCount], 0.0f);
  EXPECT_FLOAT_EQ(c.dense[kCrossLanguageMatch], 0.5f);
  EXPECT_FLOAT_EQ(c.dense[kCrossRetrievalScore], 0.1f);
}

TEST(CrossFeaturesTest, SourceSignals) {
  const UserCrossContext context(User(), {});
  SourceSignals s;
  s.item_to_item = 0.7f;
  s.has_item_to_item = true;
  s.trending_rank = 1;
  s.popular_rank = kCrossRankCap;
  featurestore::VideoFeatures video = Video("music", 7, "en");
  video.known = true;
  video.upload_ms = 10 * kMsPerDay;
  const CrossInputs c = context.Make(video, video.upload_ms + kCrossFreshWindowMs / 4, s);
  EXPECT_FLOAT_EQ(c.dense[kCrossItemToItem], 0.7f);
  EXPECT_FLOAT_EQ(c.dense[kCrossHasItemToItem], 1.0f);
  EXPECT_FLOAT_EQ(c.dense[kCrossTrendingRank], 1.0f);  // the top of the list
  EXPECT_GT(c.dense[kCrossPopularRank], 0.0f);          // the last rank kept is still ranked
  EXPECT_LT(c.dense[kCrossPopularRank], 0.01f);
  EXPECT_FLOAT_EQ(c.dense[kCrossFresh], 0.75f);
  EXPECT_FLOAT_EQ(c.dense[kCrossHasRetrievalScore], 0.0f);

  s.trending_rank = kCrossRankCap + 1;  // beyond the cap: unranked
  s.popular_rank = 0;
  const CrossInputs old = context.Make(video, video.upload_ms + kCrossFreshWindowMs, s);
  EXPECT_FLOAT_EQ(old.dense[kCrossTrendingRank], 0.0f);
  EXPECT_FLOAT_EQ(old.dense[kCrossPopularRank], 0.0f);
  EXPECT_FLOAT_EQ(old.dense[kCrossFresh], 0.0f);  // out of the window
  EXPECT_FLOAT_EQ(context.Make(video, video.upload_ms - 1, s).dense[kCrossFresh], 0.0f);  // not uploaded yet
}

TEST(CrossFeaturesTest, ItemToItemScoreIsTheBestSeedMatch) {
  const float a[] = {1, 0}, b[] = {0.5f, 0.5f}, video[] = {0.2f, 0.8f};
  const float* seeds[] = {a, nullptr, b};
  float score = -1;
  ASSERT_TRUE(ItemToItemScore(seeds, video, 2, &score));
  EXPECT_FLOAT_EQ(score, 0.5f);
  EXPECT_FALSE(ItemToItemScore(seeds, nullptr, 2, &score));
  const float* none[] = {nullptr};
  EXPECT_FALSE(ItemToItemScore(none, video, 2, &score));
}

TEST(CrossFeaturesTest, EngagedSeedsAreTheNewestEngagedEntries) {
  featurestore::UserFeatures user;
  for (VideoId v = 1; v <= 8; ++v) {
    featurestore::HistoryEntry h;
    h.video_id = v;
    h.signals = v == 7 ? featurestore::HistoryEntry::kSkipped : featurestore::HistoryEntry::kClicked;
    user.history.push_back(h);
  }
  std::vector<VideoId> seeds;
  EngagedSeeds(user, &seeds);
  EXPECT_EQ(seeds, (std::vector<VideoId>{8, 6, 5, 4, 3}));
}

}  // namespace
}  // namespace vrec::ranking
