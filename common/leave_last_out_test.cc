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
  const LeaveLastOutItems items = SplitLeaveLastOut(rows);
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
}

}  // namespace
}  // namespace vrec
