#include "featurestore/features.h"

#include <cmath>

#include "gtest/gtest.h"

namespace vrec::featurestore {
namespace {

Event E(TimestampMs t, EventType type, VideoId v = 7, uint32_t watch_ms = 0) {
  Event e;
  e.timestamp_ms = t;
  e.type = type;
  e.user_id = 1;
  e.video_id = v;
  e.watch_time_ms = watch_ms;
  return e;
}

TEST(EngagementCountersTest, DecayedSumsMatchTheClosedFormInAnyOrder) {
  const TimestampMs t1 = 10 * kMsPerDay, t2 = 11 * kMsPerDay, t3 = 13 * kMsPerDay;
  EngagementCounters in_order, out_of_order;
  in_order.Add(kClicks, 1, t1);
  in_order.Add(kClicks, 2, t2);
  in_order.Add(kClicks, 4, t3);
  out_of_order.Add(kClicks, 4, t3);
  out_of_order.Add(kClicks, 1, t1);
  out_of_order.Add(kClicks, 2, t2);
  const TimestampMs now = 14 * kMsPerDay;
  const double day = 1 * std::exp(-4.0) + 2 * std::exp(-3.0) + 4 * std::exp(-1.0);
  const double week = 1 * std::exp(-4.0 / 7) + 2 * std::exp(-3.0 / 7) + 4 * std::exp(-1.0 / 7);
  for (const EngagementCounters* c : {&in_order, &out_of_order}) {
    EXPECT_NEAR(c->Day(kClicks, now), day, 1e-5);
    EXPECT_NEAR(c->Week(kClicks, now), week, 1e-5);
    EXPECT_EQ(c->total[kClicks], 7.0);
    EXPECT_EQ(c->total[kImpressions], 0.0);
  }
}

TEST(ApplyEventTest, UpdatesCountersHistoryAndAffinity) {
  FeatureUpdateOptions options;
  UserFeatures user;
  VideoFeatures video;
  video.id = 7;
  video.category = "music";
  video.duration_ms = 60000;
  ApplyEvent(E(1000, EventType::kImpression), options, &user, &video);
  EXPECT_TRUE(user.history.empty());  // impressions are not history
  ApplyEvent(E(2000, EventType::kClick), options, &user, &video);
  ApplyEvent(E(32000, EventType::kWatch, 7, 30000), options, &user, &video);
  ApplyEvent(E(33000, EventType::kLike), options, &user, &video);
  EXPECT_EQ(video.counters.total[kImpressions], 1.0);
  EXPECT_EQ(video.counters.total[kClicks], 1.0);
  EXPECT_EQ(video.counters.total[kWatchSeconds], 30.0);
  EXPECT_EQ(user.counters.total[kLikes], 1.0);
  EXPECT_EQ(user.last_active_ms, 33000);
  ASSERT_EQ(user.history.size(), 1u);
  const HistoryEntry& h = user.history[0];
  EXPECT_EQ(h.video_id, 7u);
  EXPECT_EQ(h.time_ms, 33000);
  EXPECT_FLOAT_EQ(h.watch_ratio, 0.5f);
  EXPECT_EQ(h.signals, HistoryEntry::kClicked | HistoryEntry::kWatched | HistoryEntry::kLiked);
  ASSERT_EQ(user.affinity.size(), 1u);
  EXPECT_EQ(user.affinity[0].category, CategoryHash("music"));
  EXPECT_NEAR(user.affinity[0].total, 1.0 + 0.5 + 2.0, 1e-6);
}

TEST(ApplyEventTest, HistoryIsCappedOldestOut) {
  FeatureUpdateOptions options;
  options.history_length = 3;
  UserFeatures user;
  VideoFeatures video;
  for (VideoId v = 0; v < 5; ++v) {
    video.id = v;
    ApplyEvent(E(v, EventType::kClick, v), options, &user, &video);
  }
  ASSERT_EQ(user.history.size(), 3u);
  EXPECT_EQ(user.history.front().video_id, 2u);
  EXPECT_EQ(user.FindHistory(1), nullptr);
  ASSERT_NE(user.FindHistory(4), nullptr);
  ApplyEvent(E(9, EventType::kNotInterested, 4), options, &user, &video);
  EXPECT_TRUE(user.FindHistory(4)->signals & HistoryEntry::kNotInterested);
}

TEST(ApplyEventTest, VideosThatLeaveTheHistoryStayInTheSeenSet) {
  FeatureUpdateOptions options;
  options.history_length = 2;
  options.earlier_length = 3;
  UserFeatures user;
  VideoFeatures video;
  // 0..5 clicked, except 1 skipped; then 0 clicked again (back in the history).
  for (VideoId v = 0; v < 6; ++v) {
    video.id = v;
    ApplyEvent(E(v, v == 1 ? EventType::kSkip : EventType::kClick, v), options, &user, &video);
  }
  video.id = 0;
  ApplyEvent(E(10, EventType::kClick, 0), options, &user, &video);
  // History: 5, 0. Earlier (capped at 3, oldest dropped) holds the last three evicted: 2, 3, 4
  // (0 and the skipped 1 were dropped from it; 0 is back in the history).
  ASSERT_EQ(user.history.size(), 2u);
  ASSERT_EQ(user.earlier.size(), 3u);
  EXPECT_EQ(user.earlier[0].video, 2u);
  EXPECT_EQ(user.earlier[2].video, 4u);
  std::vector<VideoId> seen;
  SeenVideos(user, &seen);
  EXPECT_EQ(seen, (std::vector<VideoId>{0, 2, 3, 4, 5}));
  std::vector<VideoId> engaged;
  EngagedVideos(user, &engaged);
  EXPECT_EQ(engaged, (std::vector<VideoId>{2, 3, 4, 5, 0}));

  // A skipped video stays seen but is not engaged.
  options.earlier_length = 10;
  UserFeatures other;
  for (VideoId v = 0; v < 4; ++v) {
    video.id = v;
    ApplyEvent(E(v, v == 0 ? EventType::kSkip : EventType::kClick, v), options, &other, &video);
  }
  SeenVideos(other, &seen);
  EXPECT_EQ(seen, (std::vector<VideoId>{0, 1, 2, 3}));
  EngagedVideos(other, &engaged);
  EXPECT_EQ(engaged, (std::vector<VideoId>{1, 2, 3}));
}

TEST(ApplyEventTest, AffinityAdmitsNewInterestsAndKeepsTheStrongest) {
  FeatureUpdateOptions options;
  options.max_categories = 2;
  UserFeatures user;
  VideoFeatures video;
  const std::pair<const char*, int> clicks[] = {{"a", 3}, {"b", 2}, {"c", 1}, {"d", 5}};
  TimestampMs t = 0;
  for (const auto& [category, n] : clicks) {
    video.category = category;
    for (int i = 0; i < n; ++i) ApplyEvent(E(++t, EventType::kClick), options, &user, &video);
  }
  // b is pushed out by c, c (the weakest) by d; a and the new favourite d remain.
  ASSERT_EQ(user.affinity.size(), 2u);
  EXPECT_EQ(user.affinity[0].category, CategoryHash("a"));
  EXPECT_EQ(user.affinity[1].category, CategoryHash("d"));
  EXPECT_NEAR(user.affinity[1].total, 5.0, 1e-6);
}

TEST(CategoryHashTest, StableAndNonZero) {
  EXPECT_EQ(CategoryHash(""), 0u);
  EXPECT_EQ(CategoryHash("music"), CategoryHash("music"));
  EXPECT_NE(CategoryHash("music"), CategoryHash("gaming"));
  EXPECT_EQ(CategoryHash("a"), 0xE40C292Cu);  // FNV-1a reference value
}

}  // namespace
}  // namespace vrec::featurestore
