#include "ranking/cross_features.h"

#include <cmath>

#include "gtest/gtest.h"

namespace vrec {
namespace {

UserFeatures User() {
  UserFeatures u;
  u.language = "en";
  u.affinity = {{CategoryHash("music"), 3.0f, 5.0f}, {CategoryHash("news"), 1.0f, 1.0f}};
  for (VideoId v = 1; v <= 4; ++v) {
    HistoryEntry h;
    h.video_id = v;
    h.watch_ratio = 0.25f * v;
    u.history.push_back(h);
  }
  return u;
}

VideoFeatures Video(const std::string& category, CreatorId creator, const std::string& language) {
  VideoFeatures v;
  v.category = category;
  v.creator_id = creator;
  v.language = language;
  return v;
}

TEST(CrossFeaturesTest, CategoryCreatorAndLanguage) {
  const UserFeatures user = User();
  const CreatorId creators[] = {7, 7, 8, kInvalidId};  // history videos 1, 2 by creator 7
  const UserCrossContext context(user, creators);

  const CrossInputs music = context.Make(Video("music", 7, "en"), 0.4f, true);
  EXPECT_FLOAT_EQ(music.dense[kCrossCategoryShare], 0.75f);
  EXPECT_FLOAT_EQ(music.dense[kCrossCategoryRank], 1.0f);
  EXPECT_FLOAT_EQ(music.dense[kCrossCreatorCount], std::log1p(2.0f));
  EXPECT_FLOAT_EQ(music.dense[kCrossCreatorShare], 0.5f);
  EXPECT_FLOAT_EQ(music.dense[kCrossCreatorWatch], (0.25f + 0.5f) / 2);
  EXPECT_FLOAT_EQ(music.dense[kCrossRetrievalScore], 0.4f);
  EXPECT_FLOAT_EQ(music.dense[kCrossHasRetrievalScore], 1.0f);
  EXPECT_FLOAT_EQ(music.dense[kCrossLanguageMatch], 1.0f);

  const CrossInputs news = context.Make(Video("news", 8, "de"), 0.9f, false);
  EXPECT_FLOAT_EQ(news.dense[kCrossCategoryShare], 0.25f);
  EXPECT_FLOAT_EQ(news.dense[kCrossCategoryRank], 0.5f);
  EXPECT_FLOAT_EQ(news.dense[kCrossCreatorShare], 0.25f);
  EXPECT_FLOAT_EQ(news.dense[kCrossRetrievalScore], 0.0f);  // unknown score is 0
  EXPECT_FLOAT_EQ(news.dense[kCrossHasRetrievalScore], 0.0f);
  EXPECT_FLOAT_EQ(news.dense[kCrossLanguageMatch], 0.0f);

  const CrossInputs unknown = context.Make(VideoFeatures(), 0, false);
  EXPECT_FLOAT_EQ(unknown.dense[kCrossCategoryShare], 0.0f);
  EXPECT_FLOAT_EQ(unknown.dense[kCrossCreatorCount], 0.0f);
  EXPECT_FLOAT_EQ(unknown.dense[kCrossLanguageMatch], 0.5f);
}

TEST(CrossFeaturesTest, ColdStartUserHasNeutralCrossFeatures) {
  const UserCrossContext context(UserFeatures(), {});
  const CrossInputs c = context.Make(Video("music", 7, "en"), 0.1f, true);
  EXPECT_FLOAT_EQ(c.dense[kCrossCategoryShare], 0.0f);
  EXPECT_FLOAT_EQ(c.dense[kCrossCreatorCount], 0.0f);
  EXPECT_FLOAT_EQ(c.dense[kCrossLanguageMatch], 0.5f);
  EXPECT_FLOAT_EQ(c.dense[kCrossRetrievalScore], 0.1f);
}

}  // namespace
}  // namespace vrec
