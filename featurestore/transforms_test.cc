#include "featurestore/transforms.h"

#include "gtest/gtest.h"

namespace vrec::featurestore {
namespace {

constexpr TimestampMs kLast = 1767225600000;

UserFeatures ActiveUser() {
  UserFeatures u;
  u.id = 5;
  u.known = true;
  u.last_active_ms = kLast;
  u.affinity_ms = kLast;
  u.affinity = {{CategoryHash("music"), 3.0f, 5.0f}, {CategoryHash("news"), 1.0f, 2.0f}};
  for (int i = 0; i < 6; ++i) {
    HistoryEntry h;
    h.video_id = 100 + i;
    h.time_ms = kLast - (5 - i) * kMsPerDay;  // one a day, the newest at kLast
    h.signals = HistoryEntry::kClicked | HistoryEntry::kWatched;
    h.watch_ratio = 0.5f;
    u.history.push_back(h);
  }
  return u;
}

// A user idle for 150 days gets the same history and affinity inputs as at their last event:
// what they did is weighted relative to their own last event, not to the serve clock.
TEST(TransformsTest, HistoryInputsDoNotFadeWhileTheUserIsAway) {
  const UserFeatures u = ActiveUser();
  const TransformOptions o;
  const UserInputs at_last = TransformUser(u, FeatureContext{kLast, Device::kUnknown}, o);
  const UserInputs idle = TransformUser(u, FeatureContext{kLast + 150 * kMsPerDay, Device::kUnknown}, o);
  EXPECT_EQ(idle.history, at_last.history);
  EXPECT_EQ(idle.history_weight, at_last.history_weight);
  EXPECT_EQ(idle.top_categories, at_last.top_categories);
  EXPECT_EQ(idle.top_category_weight, at_last.top_category_weight);
  // Recency still orders the history: the newest entry weighs most.
  EXPECT_GT(at_last.history_weight[0], at_last.history_weight[5]);
  EXPECT_GT(at_last.history_weight[5], 0.0f);
  // The idle time itself remains an input of its own (days since last active).
  EXPECT_GT(idle.dense[1], at_last.dense[1]);
}

}  // namespace
}  // namespace vrec::featurestore
