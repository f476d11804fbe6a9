#include "common/leave_last_out.h"

#include "gtest/gtest.h"

namespace vrec {
namespace {

TEST(LeaveLastOutTest, LastDistinctByFirstEngagement) {
  // User 0 engages 5, 7, 5 again, then 9: test 9, validation 7. A re-engagement with 5 after
  // 9 does not move 5 to the end.
  // User 1 has one distinct video: no test item. User 2 has two: a test item, no validation.
  const std::vector<Engagement> rows = {
      {0, 5, 10}, {0, 7, 20}, {0, 5, 30}, {0, 9, 40}, {0, 5, 50},
      {1, 3, 10}, {1, 3, 20},
      {2, 4, 10}, {2, 6, 10},  // equal times keep log order: 6 is last
  };
  const HeldOutItems items = SplitLeaveLastOut(rows);
  ASSERT_EQ(items.test.size(), 3u);
  EXPECT_EQ(items.test[0], 9u);
  EXPECT_EQ(items.test_time[0], 40);
  EXPECT_EQ(items.validation[0], 7u);
  EXPECT_EQ(items.test[1], kInvalidId);
  EXPECT_EQ(items.validation[1], kInvalidId);
  EXPECT_EQ(items.test[2], 6u);
  EXPECT_EQ(items.validation[2], kInvalidId);
  EXPECT_TRUE(items.IsTest(0, 9));
  EXPECT_FALSE(items.IsTest(0, 5));
  EXPECT_FALSE(items.IsTest(1, kInvalidId));
  EXPECT_FALSE(items.IsTest(7, 9));
  EXPECT_TRUE(items.IsValidation(0, 7));
  EXPECT_FALSE(items.IsValidation(0, 9));
}

TEST(RandomSplitTest, HoldsOutAQuarterOfEachVideosUsersSeededAndDisjoint) {
  // 40 users x 8 videos, every user engaged with every video (twice: repeats count once).
  std::vector<Engagement> rows;
  for (UserId u = 0; u < 40; ++u) {
    for (VideoId v = 0; v < 8; ++v) {
      rows.push_back({u, v, v});
      rows.push_back({u, v, 100 + v});
    }
  }
  const HeldOutItems a = SplitRandomPerVideo(rows), b = SplitRandomPerVideo(rows);
  EXPECT_TRUE(a.random);
  EXPECT_EQ(a.test_pairs, b.test_pairs);  // seeded
  EXPECT_EQ(a.test_pairs.size(), 8u * 10);  // 25% of 40 per video
  EXPECT_EQ(a.validation_pairs.size(), 8u * 3);  // 10% of the remaining 30
  for (VideoId v = 0; v < 8; ++v) {
    int test = 0;
    for (UserId u = 0; u < 40; ++u) {
      test += a.IsTest(u, v);
      EXPECT_FALSE(a.IsTest(u, v) && a.IsValidation(u, v));
    }
    EXPECT_EQ(test, 10);
  }
  EXPECT_NE(SplitRandomPerVideo(rows, 7).test_pairs, a.test_pairs);
  EXPECT_TRUE(SplitHeldOut("random", rows).ok());
  EXPECT_EQ(SplitHeldOut("time-split", rows).status().code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace vrec
