#include "featurestore/point_in_time_view.h"

#include "gtest/gtest.h"

namespace vrec::featurestore {
namespace {

constexpr TimestampMs kT = 1767225600000;

Catalog SmallCatalog() {
  User u;
  u.id = 1;
  u.country = "DE";
  Video old_video, new_video;
  old_video.id = 10;
  old_video.category = "music";
  old_video.upload_ms = kT - kMsPerDay;
  new_video.id = 11;
  new_video.category = "news";
  new_video.upload_ms = kT + kMsPerHour;  // after T: does not exist yet
  return Catalog({u}, {old_video, new_video});
}

TEST(PointInTimeFeatureViewTest, ReadsTheReplayAsOfItsTime) {
  const Catalog catalog = SmallCatalog();
  FeatureReplay replay(catalog, FeatureUpdateOptions());
  Event click;
  click.type = EventType::kClick;
  click.user_id = 1;
  click.video_id = 10;
  click.timestamp_ms = kT - kMsPerHour;
  replay.Apply(click);
  const PointInTimeFeatureView view(&replay, kT);

  auto user = view.GetUser(1, kT);
  ASSERT_TRUE(user.ok());
  EXPECT_EQ(user->profile, FeatureStatus::kPresent);
  EXPECT_EQ(user->history, FeatureStatus::kPresent);
  ASSERT_EQ(user->features.history.size(), 1u);
  EXPECT_EQ(user->features.history[0].video_id, 10u);
  // Unknown users read as defaults with their id: a cold start.
  auto unknown = view.GetUser(77, kT);
  ASSERT_TRUE(unknown.ok());
  EXPECT_EQ(unknown->features.id, 77u);
  EXPECT_EQ(unknown->profile, FeatureStatus::kMissing);
  EXPECT_EQ(unknown->history, FeatureStatus::kMissing);
  // A month later the same history is stale, by the store's rule.
  EXPECT_EQ(view.GetUser(1, kT + 40 * kMsPerDay)->history, FeatureStatus::kStale);

  std::vector<VideoRead> videos;
  ASSERT_TRUE(view.GetVideos({10, 99}, kT, &videos).ok());
  ASSERT_EQ(videos.size(), 2u);
  EXPECT_EQ(videos[0].features.category, "music");
  EXPECT_EQ(videos[0].metadata, FeatureStatus::kPresent);
  EXPECT_EQ(videos[0].counters, FeatureStatus::kPresent);
  EXPECT_EQ(videos[1].features.id, 99u);
  EXPECT_EQ(videos[1].metadata, FeatureStatus::kMissing);

  // Video 11 is uploaded after T: the catalog scan does not see it.
  std::vector<VideoId> seen;
  ASSERT_TRUE(view.ForEachVideo([&](const VideoFeatures& v) {
                    seen.push_back(v.id);
                    return absl::OkStatus();
                  })
                  .ok());
  EXPECT_EQ(seen, std::vector<VideoId>({10}));
}

}  // namespace
}  // namespace vrec::featurestore
