#include "common/clock.h"

#include "gtest/gtest.h"

namespace vrec {
namespace {

TEST(ClockTest, ParsesThreeForms) {
  EXPECT_EQ(*ParseTimestamp("1767225600000"), 1767225600000);
  EXPECT_EQ(*ParseTimestamp("2026-01-01"), 1767225600000);
  EXPECT_EQ(*ParseTimestamp("2026-01-01T01:00:00Z"), 1767225600000 + 3600000);
  EXPECT_EQ(ParseTimestamp("yesterday").status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(FormatTimestamp(1767225600000 + 1), "2026-01-01T00:00:00.001Z");
}

TEST(ClockTest, ManualClockMovesOnlyWhenTold) {
  ManualClock clock(10);
  EXPECT_EQ(clock.NowMs(), 10);
  clock.Advance(5);
  EXPECT_EQ(clock.NowMs(), 15);
  EXPECT_GT(SystemClock::Get()->NowMs(), 1700000000000);
}

}  // namespace
}  // namespace vrec
