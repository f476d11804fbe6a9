#include "featurestore/schema.h"

#include "gtest/gtest.h"

namespace vrec::featurestore {
namespace {

TEST(SchemaTest, RoundTrips) {
  VideoFeatures v;
  v.known = true;
  v.category = "music";
  v.tags = {"jazz", "live"};
  v.creator_id = 12;
  v.duration_ms = 61000;
  v.language = "en";
  v.upload_ms = -5;
  v.counters.Add(kClicks, 3, 1000);
  std::string bytes;
  EncodeVideo(v, &bytes);
  VideoFeatures back;
  ASSERT_TRUE(DecodeVideo(bytes, &back).ok());
  EXPECT_EQ(back.tags, v.tags);
  EXPECT_EQ(back.upload_ms, -5);
  EXPECT_EQ(back.counters.day, v.counters.day);
  EXPECT_EQ(back.counters.total, v.counters.total);

  UserFeatures u;
  u.known = true;
  u.country = "DE";
  u.age_bucket = 3;
  u.affinity = {{7, 1.5f, 2.5f}};
  u.history = {{9, 100, 0.25f, HistoryEntry::kWatched}};
  EncodeUser(u, &bytes);
  UserFeatures ub;
  ASSERT_TRUE(DecodeUser(bytes, &ub).ok());
  EXPECT_EQ(ub.country, "DE");
  ASSERT_EQ(ub.affinity.size(), 1u);
  EXPECT_EQ(ub.affinity[0].total, 2.5f);
  u.earlier = {{3, true}, {4000000000u, false}};
  EncodeHistory(u, &bytes);
  ASSERT_TRUE(DecodeHistory(bytes, &ub).ok());
  ASSERT_EQ(ub.history.size(), 1u);
  EXPECT_EQ(ub.history[0].watch_ratio, 0.25f);
  ASSERT_EQ(ub.earlier.size(), 2u);
  EXPECT_EQ(ub.earlier[0].video, 3u);
  EXPECT_TRUE(ub.earlier[0].engaged);
  EXPECT_EQ(ub.earlier[1].video, 4000000000u);
  EXPECT_FALSE(ub.earlier[1].engaged);
}

TEST(SchemaTest, TruncatedIsDataLossAndOtherVersionIsFailedPrecondition) {
  VideoFeatures v;
  v.category = "music";
  std::string bytes;
  EncodeVideo(v, &bytes);
  VideoFeatures back;
  for (size_t cut : {size_t{0}, size_t{1}, bytes.size() / 2, bytes.size() - 1}) {
    EXPECT_EQ(DecodeVideo(bytes.substr(0, cut), &back).code(), absl::StatusCode::kDataLoss) << cut;
  }
  EXPECT_EQ(DecodeVideo(bytes + "x", &back).code(), absl::StatusCode::kDataLoss);
  bytes[0] = 9;
  absl::Status s = DecodeVideo(bytes, &back);
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(s.message().find("schema version 9"), std::string::npos);
  UserFeatures user;
  EXPECT_EQ(DecodeHistory(std::string("\x02\xff\xff\xff\x7f", 5), &user).code(),
            absl::StatusCode::kDataLoss);  // absurd count, no allocation
}

}  // namespace
}  // namespace vrec::featurestore
