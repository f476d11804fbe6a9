#include "featurestore/feature_replay.h"

#include <filesystem>

#include "common/event_log.h"
#include "common/random.h"
#include "common/world.h"
#include "featurestore/feature_store.h"
#include "featurestore/transforms.h"
#include "gtest/gtest.h"
#include "tests/testing/temp_dir.h"

namespace vrec::featurestore {
namespace {

using testing::TempPath;

Event E(TimestampMs t, UserId u, VideoId v, EventType type, uint32_t watch_ms = 0) {
  Event e;
  e.timestamp_ms = t;
  e.user_id = u;
  e.video_id = v;
  e.type = type;
  e.watch_time_ms = watch_ms;
  return e;
}

// Writes a world with `users` users and `videos` videos and the given (time-sorted) events.
void WriteWorld(const std::string& dir, int users, int videos, const std::vector<Event>& events) {
  std::filesystem::remove_all(dir);
  ASSERT_TRUE(MakeDirs(dir).ok());
  std::vector<User> us;
  for (int u = 0; u < users; ++u) us.push_back({static_cast<UserId>(u), "DE", "de", 2, 0});
  std::vector<Video> vs;
  for (int v = 0; v < videos; ++v) {
    Video video;
    video.id = v;
    video.category = "cat" + std::to_string(v % 5);
    video.tags = {"t" + std::to_string(v % 3)};
    video.creator_id = v % 7;
    video.duration_ms = 10000 + 1000 * v;
    video.language = "de";
    vs.push_back(video);
  }
  ASSERT_TRUE(WriteUsers(WorldUsersPath(dir), us).ok());
  ASSERT_TRUE(WriteVideos(WorldVideosPath(dir), vs).ok());
  ASSERT_TRUE(WriteEventLog(WorldEventsPath(dir), events).ok());
  WorldManifest m;
  m.kind = "csv";
  m.num_users = users;
  m.num_videos = videos;
  m.num_events = events.size();
  m.start_ms = events.front().timestamp_ms;
  m.end_ms = events.back().timestamp_ms;
  ASSERT_TRUE(WriteWorldManifest(dir, m).ok());
}

TEST(PointInTimeTest, ExamplesSeeOnlyThePast) {
  const std::string dir = TempPath("pit_world");
  WriteWorld(dir, 2, 4,
             {E(10, 1, 1, EventType::kImpression), E(11, 1, 1, EventType::kClick),
              E(20, 1, 1, EventType::kWatch, 20000), E(30, 1, 2, EventType::kClick),
              E(40, 1, 3, EventType::kLike), E(50, 0, 2, EventType::kClick)});
  auto catalog = ReadCatalog(dir);
  ASSERT_TRUE(catalog.ok());
  std::vector<TimestampMs> emitted;
  absl::Status s = ForEachPointInTimeExample(
      dir, *catalog, FeatureUpdateOptions(), /*until_ms=*/45,
      [](const Event& e) { return e.type != EventType::kImpression; },
      [&](const Event& e, const UserFeatures& user, const VideoFeatures& video) {
        emitted.push_back(e.timestamp_ms);
        // Nothing at or after the event's own time is visible.
        EXPECT_LT(user.last_active_ms, e.timestamp_ms);
        for (const HistoryEntry& h : user.history) EXPECT_LT(h.time_ms, e.timestamp_ms);
        EXPECT_LE(video.counters.updated_ms, e.timestamp_ms - 1);
        if (e.timestamp_ms == 30) {
          EXPECT_EQ(user.history.size(), 1u);  // video 1 only
          EXPECT_EQ(user.counters.total[kClicks], 1.0);
          EXPECT_EQ(video.counters.total[kClicks], 0.0);  // video 2 before its first click
          EXPECT_EQ(user.FindHistory(3), nullptr);        // the t=40 like is in the future
        }
        if (e.timestamp_ms == 11) {
          EXPECT_EQ(video.counters.total[kImpressions], 1.0);
          EXPECT_EQ(video.counters.total[kClicks], 0.0);
        }
        return absl::OkStatus();
      });
  ASSERT_TRUE(s.ok()) << s;
  EXPECT_EQ(emitted, (std::vector<TimestampMs>{11, 20, 30, 40}));  // not 50: past until_ms
}

TEST(PointInTimeTest, OfflineAndOnlineInputsAreIdentical) {
  Rng rng(3);
  std::vector<Event> events;
  TimestampMs t = 1767225600000;
  for (int i = 0; i < 3000; ++i) {
    t += static_cast<TimestampMs>(rng.UniformInt(10 * 60 * 1000));
    const auto type = static_cast<EventType>(rng.UniformInt(kNumEventTypes));
    events.push_back(E(t, static_cast<UserId>(rng.UniformInt(20)), static_cast<VideoId>(rng.UniformInt(60)),
                       type, type == EventType::kWatch ? static_cast<uint32_t>(rng.UniformInt(60000)) : 0));
  }
  const std::string dir = TempPath("offline_online_world");
  WriteWorld(dir, 20, 60, events);
  const Event& pivot = events[2000];  // predict this event from everything before it

  FeaturizeOptions options;
  options.as_of_ms = pivot.timestamp_ms;
  options.show_progress = false;
  const std::string store_dir = TempPath("offline_online_store");
  auto summary = Featurize(dir, store_dir, options);
  ASSERT_TRUE(summary.ok()) << summary.status();
  auto store = FeatureStore::Open(store_dir, FeatureStoreOptions());
  ASSERT_TRUE(store.ok()) << store.status();
  EXPECT_EQ((*store)->watermark(), summary->events_applied);
  EXPECT_LE(summary->events_applied, 2000u);

  const FeatureContext context{pivot.timestamp_ms, Device::kTv};
  const TransformOptions transform;
  auto catalog = ReadCatalog(dir);
  ASSERT_TRUE(catalog.ok());
  int compared = 0;
  ASSERT_TRUE(ForEachPointInTimeExample(
                  dir, *catalog, FeatureUpdateOptions(), INT64_MAX,
                  [&](const Event& e) { return e.timestamp_ms == pivot.timestamp_ms; },
                  [&](const Event& e, const UserFeatures& offline_user, const VideoFeatures& offline_video) {
                    if (compared > 0) return absl::OkStatus();
                    auto online_user = (*store)->GetUser(e.user_id, pivot.timestamp_ms);
                    EXPECT_TRUE(online_user.ok());
                    std::vector<VideoRead> online_videos;
                    EXPECT_TRUE((*store)->GetVideos({e.video_id}, pivot.timestamp_ms, &online_videos).ok());
                    EXPECT_TRUE(TransformUser(offline_user, context, transform) ==
                                TransformUser(online_user->features, context, transform));
                    EXPECT_TRUE(TransformVideo(offline_video, context, transform) ==
                                TransformVideo(online_videos[0].features, context, transform));
                    EXPECT_EQ(CategoryAffinityShare(offline_user, offline_video),
                              CategoryAffinityShare(online_user->features, online_videos[0].features));
                    ++compared;
                    return absl::OkStatus();
                  })
                  .ok());
  EXPECT_EQ(compared, 1);

  // And for every user and video, against a replay to the same point.
  FeatureReplay replay(*catalog, FeatureUpdateOptions());
  for (size_t i = 0; i < summary->events_applied; ++i) replay.Apply(events[i]);
  for (UserId u = 0; u < 20; ++u) {
    auto online = (*store)->GetUser(u, pivot.timestamp_ms);
    ASSERT_TRUE(online.ok());
    EXPECT_TRUE(TransformUser(replay.user(u), context, transform) ==
                TransformUser(online->features, context, transform)) << "user " << u;
  }
  std::vector<VideoId> ids;
  for (VideoId v = 0; v < 60; ++v) ids.push_back(v);
  std::vector<VideoRead> online;
  ASSERT_TRUE((*store)->GetVideos(ids, pivot.timestamp_ms, &online).ok());
  for (VideoId v = 0; v < 60; ++v) {
    EXPECT_TRUE(TransformVideo(replay.video(v), context, transform) ==
                TransformVideo(online[v].features, context, transform)) << "video " << v;
  }
}

TEST(FeaturizeTest, ReplacesAnExistingStoreAtomically) {
  const std::string dir = TempPath("featurize_twice");
  WriteWorld(dir, 3, 3, {E(1, 0, 0, EventType::kClick), E(2, 1, 1, EventType::kClick), E(3, 2, 2, EventType::kClick)});
  const std::string store_dir = TempPath("featurize_twice_store");
  FeaturizeOptions options;
  options.show_progress = false;
  options.as_of_ms = 2;
  ASSERT_TRUE(Featurize(dir, store_dir, options).ok());
  options.as_of_ms = INT64_MAX;
  auto second = Featurize(dir, store_dir, options);
  ASSERT_TRUE(second.ok()) << second.status();
  EXPECT_EQ(second->events_applied, 3u);
  auto store = FeatureStore::Open(store_dir, FeatureStoreOptions());
  ASSERT_TRUE(store.ok());
  EXPECT_EQ((*store)->watermark(), 3u);
  EXPECT_FALSE(std::filesystem::exists(store_dir + ".building"));
  EXPECT_FALSE(std::filesystem::exists(store_dir + ".old"));
}

TEST(FeaturizeTest, CarriesLoggedEventIdsIntoTheStore) {
  const std::string dir = TempPath("featurize_ids");
  WriteWorld(dir, 3, 3, {E(1, 0, 0, EventType::kClick)});
  {
    auto writer = EventLogWriter::Open(WorldEventsPath(dir));
    ASSERT_TRUE(writer.ok());
    ASSERT_TRUE((*writer)
                    ->AppendBatch(std::vector<Event>{E(2, 1, 1, EventType::kClick), E(3, 2, 2, EventType::kClick)},
                                  std::vector<uint64_t>{EventIdHash("p"), 0})
                    .ok());
    ASSERT_TRUE((*writer)->Sync().ok());
  }
  const std::string store_dir = TempPath("featurize_ids_store");
  FeaturizeOptions options;
  options.show_progress = false;
  ASSERT_TRUE(Featurize(dir, store_dir, options).ok());
  auto store = FeatureStore::Open(store_dir, FeatureStoreOptions());
  ASSERT_TRUE(store.ok());
  std::vector<bool> known;
  ASSERT_TRUE((*store)->ContainsEventIds(std::vector<uint64_t>{EventIdHash("p"), EventIdHash("q")}, &known).ok());
  EXPECT_EQ(known, (std::vector<bool>{true, false}));
}

}  // namespace
}  // namespace vrec::featurestore
