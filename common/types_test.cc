#include "common/types.h"

#include "gtest/gtest.h"

namespace vrec {
namespace {

TEST(TypesTest, EventTypeNamesRoundTrip) {
  for (int i = 0; i < kNumEventTypes; ++i) {
    const auto type = static_cast<EventType>(i);
    auto parsed = ParseEventType(EventTypeName(type));
    ASSERT_TRUE(parsed.ok());
    EXPECT_EQ(*parsed, type);
  }
  EXPECT_FALSE(ParseEventType("purchase").ok());
  EXPECT_FALSE(ParseDevice("phone").ok());
  EXPECT_EQ(*ParseDevice("tv"), Device::kTv);
}

TEST(TypesTest, RelevanceGrades) {
  EXPECT_EQ(RelevanceGrade(EventType::kImpression, 0, 0), 0);
  EXPECT_EQ(RelevanceGrade(EventType::kSkip, 0, 0), 0);
  EXPECT_EQ(RelevanceGrade(EventType::kClick, 0, 0), 1);
  EXPECT_EQ(RelevanceGrade(EventType::kWatch, 10000, 60000), 1);
  EXPECT_EQ(RelevanceGrade(EventType::kWatch, 30000, 60000), 2);
  EXPECT_EQ(RelevanceGrade(EventType::kWatch, 31000, 0), 2);
  EXPECT_EQ(RelevanceGrade(EventType::kShare, 0, 0), 3);
  EXPECT_TRUE(IsEngagement(EventType::kWatch));
  EXPECT_FALSE(IsEngagement(EventType::kNotInterested));
}

}  // namespace
}  // namespace vrec
