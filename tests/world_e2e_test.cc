// The synthetic world generator end to end: files, determinism, time order, arrivals.
#include <cstdlib>
#include <fstream>
#include <sstream>

#include "common/event_log.h"
#include "common/world.h"
#include "gtest/gtest.h"
#include "tests/testing/temp_dir.h"
#include "data/generate.h"
#include "data/synthetic_truth.h"

namespace vrec {
namespace {

using testing::TempPath;

std::string Slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

data::GenerateOptions Tiny(uint64_t seed) {
  data::GenerateOptions o;
  o.seed = seed;
  o.num_users = 500;
  o.num_videos = 2000;
  o.num_events = 60000;
  o.days = 10;
  o.show_progress = false;
  return o;
}

TEST(WorldE2eTest, GeneratesAConsistentWorld) {
  const std::string dir = TempPath("tiny");
  auto manifest = data::GenerateWorld(dir, Tiny(7));
  ASSERT_TRUE(manifest.ok()) << manifest.status();
  auto read = ReadWorldManifest(dir);
  ASSERT_TRUE(read.ok());
  EXPECT_EQ(read->kind, "synthetic");
  EXPECT_EQ(read->num_users, 500u);
  EXPECT_GE(read->num_events, 60000u);
  EXPECT_LT(read->num_events, 61000u);

  auto catalog = ReadCatalog(dir);
  ASSERT_TRUE(catalog.ok()) << catalog.status();
  ASSERT_EQ(catalog->videos().size(), 2000u);
  const TimestampMs start = Tiny(7).start_ms;
  int uploaded_during = 0, signed_up_during = 0;
  for (const Video& v : catalog->videos()) {
    uploaded_during += v.upload_ms >= start;
    EXPECT_FALSE(v.category.empty());
    EXPECT_GT(v.duration_ms, 0u);
  }
  for (const User& u : catalog->users()) signed_up_during += u.signup_ms >= start;
  EXPECT_GT(uploaded_during, 200);   // new videos exist at test time
  EXPECT_GT(signed_up_during, 25);   // new users too

  auto events = ReadEventLog(WorldEventsPath(dir));
  ASSERT_TRUE(events.ok());
  ASSERT_EQ(events->size(), read->num_events);
  int counts[kNumEventTypes] = {};
  for (size_t i = 0; i < events->size(); ++i) {
    const Event& e = (*events)[i];
    if (i > 0) {
      ASSERT_LE((*events)[i - 1].timestamp_ms, e.timestamp_ms) << "events out of time order at " << i;
    }
    ASSERT_NE(catalog->FindUser(e.user_id), nullptr);
    const Video* video = catalog->FindVideo(e.video_id);
    ASSERT_NE(video, nullptr);
    ASSERT_LE(video->upload_ms, e.timestamp_ms) << "a video was shown before its upload";
    ASSERT_LE(catalog->FindUser(e.user_id)->signup_ms, e.timestamp_ms) << "a user acted before sign-up";
    ++counts[static_cast<int>(e.type)];
  }
  for (int t = 0; t < kNumEventTypes; ++t) EXPECT_GT(counts[t], 0) << EventTypeName(static_cast<EventType>(t));
  const double ctr = double(counts[1]) / counts[0];
  EXPECT_GT(ctr, 0.02);
  EXPECT_LT(ctr, 0.3);

  auto truth = data::ReadSyntheticTruth(WorldTruthPath(dir));
  ASSERT_TRUE(truth.ok()) << truth.status();
  EXPECT_EQ(truth->num_users(), 500u);
  EXPECT_EQ(truth->num_videos(), 2000u);
}

TEST(WorldE2eTest, SameSeedSameBytesOtherSeedOtherWorld) {
  ASSERT_TRUE(data::GenerateWorld(TempPath("a"), Tiny(11)).ok());
  ASSERT_TRUE(data::GenerateWorld(TempPath("b"), Tiny(11)).ok());
  ASSERT_TRUE(data::GenerateWorld(TempPath("c"), Tiny(12)).ok());
  for (const char* file : {"/events.log", "/videos.tsv", "/users.tsv", "/truth.bin", "/WORLD"}) {
    EXPECT_EQ(Slurp(TempPath("a") + file), Slurp(TempPath("b") + file)) << file;
  }
  EXPECT_NE(Slurp(TempPath("a") + "/events.log"), Slurp(TempPath("c") + "/events.log"));
}

TEST(WorldE2eTest, RejectsBadOptions) {
  data::GenerateOptions o = Tiny(1);
  o.num_users = 0;
  EXPECT_EQ(data::GenerateWorld(TempPath("bad"), o).status().code(), absl::StatusCode::kInvalidArgument);
  o = Tiny(1);
  o.num_topics = 99;
  EXPECT_EQ(data::GenerateWorld(TempPath("bad"), o).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(WorldE2eTest, CorruptTruthIsAClearError) {
  const std::string path = TempPath("corrupt_truth.bin");
  { std::ofstream(path) << "garbage"; }
  auto truth = data::ReadSyntheticTruth(path);
  EXPECT_EQ(truth.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(data::ReadSyntheticTruth(TempPath("none.bin")).status().code(), absl::StatusCode::kNotFound);
}

}  // namespace
}  // namespace vrec
