// The replay evaluator end to end: the ordering a sound world and evaluator must show, and
// no leakage of the future into what systems see.
#include <algorithm>
#include <cstdlib>

#include "common/event_log.h"
#include "gtest/gtest.h"
#include "tests/testing/temp_dir.h"
#include "data/generate.h"
#include "evaluation/replay.h"
#include "evaluation/replay_models.h"
#include "retrieval/collaborative_fit.h"

namespace vrec {
namespace {

using testing::TempPath;

TEST(ReplayE2eTest, OracleBeatsRecentPopularBeatsRandom) {
  const std::string dir = TempPath("replay_world");
  data::GenerateOptions g;
  g.num_users = 4000;
  g.num_videos = 10000;
  g.num_events = 600000;
  g.days = 20;
  g.show_progress = false;
  auto manifest = data::GenerateWorld(dir, g);
  ASSERT_TRUE(manifest.ok()) << manifest.status();
  auto catalog = ReadCatalog(dir);
  ASSERT_TRUE(catalog.ok());
  evaluation::ReplayOptions options;
  options.show_progress = false;
  options.max_test_users = 1500;
  auto data = evaluation::BuildReplayData(dir, *catalog, *manifest, options);
  ASSERT_TRUE(data.ok()) << data.status();
  ASSERT_GT(data->cases.size(), 500u);
  auto truth = data::ReadSyntheticTruth(WorldTruthPath(dir));
  ASSERT_TRUE(truth.ok());
  auto oracle = evaluation::MakeOracleSystem(*data, *catalog, std::move(*truth));
  ASSERT_TRUE(oracle.ok()) << oracle.status();
  auto random = evaluation::MakeRandomSystem(*data);
  auto recent = evaluation::MakeRecentPopularSystem(*data);
  auto popular = evaluation::MakeMostPopularSystem(*data);
  retrieval::CollabFitOptions collab;
  collab.neighbours = 100;
  collab.show_progress = false;
  auto knn_system = evaluation::MakeItemKnnSystem(*data, collab);
  ASSERT_TRUE(knn_system.ok()) << knn_system.status();
  auto& knn = *knn_system;
  const auto results = evaluation::EvaluateSystems(
      *data, {random.get(), popular.get(), recent.get(), oracle->get(), knn.get()}, options);
  ASSERT_EQ(results.size(), 5u);
  // Co-engagement carries signal: item-kNN is far above chance, and covers more of the
  // catalogue than popularity.
  EXPECT_GT(results[4].metrics.ndcg, 3 * results[0].metrics.ndcg + 0.001)
      << evaluation::FormatReplayTable(*data, results, options);
  EXPECT_GT(results[4].recall_deep, 3 * results[0].recall_deep)
      << evaluation::FormatReplayTable(*data, results, options);
  EXPECT_GT(results[4].coverage, results[1].coverage);
  const double random_ndcg = results[0].metrics.ndcg, recent_ndcg = results[2].metrics.ndcg,
               oracle_ndcg = results[3].metrics.ndcg;
  EXPECT_GT(recent_ndcg, 3 * random_ndcg + 0.001) << evaluation::FormatReplayTable(*data, results, options);
  EXPECT_GT(oracle_ndcg, 2 * recent_ndcg) << evaluation::FormatReplayTable(*data, results, options);
  EXPECT_GT(results[0].coverage, results[1].coverage);  // random spreads, popularity does not
  // Beyond accuracy: random lists span categories and long-tail videos, most-popular lists
  // are the head of the catalogue and hold no new video (a new one has little past engagement).
  for (const evaluation::SystemResult& r : results) {
    EXPECT_GE(r.diversity, 0.0);
    EXPECT_LE(r.diversity, 1.0);
    EXPECT_GT(r.novelty, 0.0);
  }
  EXPECT_GT(results[0].diversity, 0.5);
  EXPECT_GT(results[0].novelty, results[1].novelty + 2.0) << evaluation::FormatReplayTable(*data, results, options);
  // Slices: some test users are new, some engaged with new videos; the oracle finds those.
  EXPECT_GT(results[0].new_user_cases, 0u);
  EXPECT_EQ(results[0].new_user_cases, results[3].new_user_cases);
  EXPECT_GT(results[0].new_video_cases, 0u);
  EXPECT_GT(results[3].new_videos.ndcg, results[1].new_videos.ndcg)
      << evaluation::FormatReplayTable(*data, results, options);
  EXPECT_GT(results[3].new_video_share, results[1].new_video_share);
  const std::string table = evaluation::FormatReplayTable(*data, results, options);
  EXPECT_NE(table.find("new-user NDCG@10"), std::string::npos);
  const std::string json = evaluation::ReplayJson(dir, *data, results, options);
  EXPECT_NE(json.find("\"name\":\"oracle\""), std::string::npos);
  EXPECT_NE(json.find("\"new_videos\":{"), std::string::npos);
}

Event E(TimestampMs t, UserId u, VideoId v, EventType type = EventType::kClick) {
  Event e;
  e.timestamp_ms = t;
  e.user_id = u;
  e.video_id = v;
  e.type = type;
  return e;
}

// A crafted log: video 5 becomes a huge hit only after the split. Nothing may know that.
class LeakageTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = TempPath("leakage");
    ASSERT_TRUE(MakeDirs(dir_).ok());
    std::vector<User> users;
    for (UserId u = 0; u < 50; ++u) users.push_back({u, "", "", 0, 0});
    std::vector<Video> videos;
    for (VideoId v = 0; v < 10; ++v) {
      Video video;
      video.id = v;
      video.upload_ms = v == 9 ? 150 : 0;  // video 9 is uploaded after the split
      videos.push_back(video);
    }
    ASSERT_TRUE(WriteUsers(WorldUsersPath(dir_), users).ok());
    ASSERT_TRUE(WriteVideos(WorldVideosPath(dir_), videos).ok());
    std::vector<Event> events;
    for (UserId u = 0; u < 10; ++u) events.push_back(E(10 + u, u, 1));  // video 1: 10 before
    for (UserId u = 0; u < 5; ++u) events.push_back(E(20 + u, u, 2));   // video 2: 5 before
    events.push_back(E(30, 7, 3));
    for (UserId u = 0; u < 50; ++u) events.push_back(E(200 + u, u, 5));  // after the split
    events.push_back(E(260, 7, 3));   // user 7 re-engages with 3: not relevance
    events.push_back(E(261, 7, 9));
    ASSERT_TRUE(WriteEventLog(WorldEventsPath(dir_), events).ok());
    manifest_.kind = "csv";
    manifest_.start_ms = 10;
    manifest_.end_ms = 261;
    manifest_.num_users = users.size();
    manifest_.num_videos = videos.size();
    manifest_.num_events = events.size();
    ASSERT_TRUE(WriteWorldManifest(dir_, manifest_).ok());
  }
  std::string dir_;
  WorldManifest manifest_;
};

TEST_F(LeakageTest, SystemsSeeOnlyThePast) {
  auto catalog = ReadCatalog(dir_);
  ASSERT_TRUE(catalog.ok());
  evaluation::ReplayOptions options;
  options.split_time_ms = 100;
  options.show_progress = false;
  auto data = evaluation::BuildReplayData(dir_, *catalog, manifest_, options);
  ASSERT_TRUE(data.ok()) << data.status();
  EXPECT_EQ(data->popular.count(5), 0.0f);
  EXPECT_EQ(data->popular.ranked(), (std::vector<VideoId>{1, 2, 3}));
  EXPECT_EQ(std::count(data->available.begin(), data->available.end(), 9), 0);
  ASSERT_EQ(data->cases.size(), 50u);
  for (const evaluation::TestCase& test : data->cases) {
    EXPECT_EQ(test.as_of_ms, 100);
    for (VideoId v : test.history) EXPECT_NE(v, 5u);
    if (test.user == 7) {
      EXPECT_EQ(test.history, (std::vector<VideoId>{1, 3}));
      // 3 was engaged before the split, so it is not a test item; 5 and 9 are.
      EXPECT_EQ(test.relevance, (Relevance{{5, 1}, {9, 1}}));
    }
  }
  auto popular = evaluation::MakeMostPopularSystem(*data);
  Rng rng(1);
  std::vector<VideoId> list;
  popular->Recommend(data->cases[0], 10, rng, &list);
  EXPECT_EQ(std::count(list.begin(), list.end(), 5), 0);
}

TEST_F(LeakageTest, LeaveLastOutHoldsOutTheLastItemEverywhere) {
  auto catalog = ReadCatalog(dir_);
  ASSERT_TRUE(catalog.ok());
  evaluation::ReplayOptions options;
  options.protocol = evaluation::ReplayProtocol::kLeaveLastOut;
  options.show_progress = false;
  auto data = evaluation::BuildReplayData(dir_, *catalog, manifest_, options);
  ASSERT_TRUE(data.ok()) << data.status();
  // Users 0..9 have videos {1, (2), 5}; user 7 has 1, 3, 5, 9 (3 twice): last distinct is 9.
  for (const evaluation::TestCase& test : data->cases) {
    ASSERT_EQ(test.relevance.size(), 1u);
    if (test.user == 7) {
      EXPECT_EQ(test.relevance[0].first, 9u);
      EXPECT_EQ(test.history, (std::vector<VideoId>{1, 3, 5}));
    } else {
      EXPECT_EQ(test.relevance[0].first, 5u);
    }
  }
  // Users 0-9 but 7 hold 5 out; users 10-49 have a single item, so theirs is training data,
  // and user 7's 5 is history: 40 + 1.
  ASSERT_EQ(data->cases.size(), 10u);
  EXPECT_EQ(data->popular.count(5), 41.0f);
  EXPECT_EQ(data->popular.count(9), 0.0f);
}

TEST_F(LeakageTest, BadSplitIsAClearError) {
  auto catalog = ReadCatalog(dir_);
  evaluation::ReplayOptions options;
  options.split_time_ms = 5;  // before everything
  options.show_progress = false;
  auto data = evaluation::BuildReplayData(dir_, *catalog, manifest_, options);
  EXPECT_EQ(data.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(data.status().message().find("choose another split"), std::string::npos);
}

}  // namespace
}  // namespace vrec
