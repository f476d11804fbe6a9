#include "retrieval/collaborative.h"

#include <cstdio>
#include <fstream>

#include "gtest/gtest.h"
#include "retrieval/collaborative_fit.h"

namespace vrec::retrieval {
namespace {

// Two taste groups: users 0-19 engage with videos 1,2,3 (in that order), users 20-39 with
// 10,11,12; user 40 bridges 3 -> 10.
std::vector<Engagement> Log() {
  std::vector<Engagement> rows;
  for (UserId u = 0; u < 40; ++u) {
    const VideoId base = u < 20 ? 1 : 10;
    for (VideoId k = 0; k < 3; ++k) rows.push_back({u, base + k, static_cast<TimestampMs>(k)});
  }
  rows.push_back({40, 3, 0});
  rows.push_back({40, 10, 1});
  return rows;
}

CollabFitOptions Options() {
  CollabFitOptions o;
  o.ease_lambda = 1;
  o.neighbours = 5;
  o.show_progress = false;
  return o;
}

TEST(CollaborativeTest, FitFindsTheCoEngagedVideosInEveryTable) {
  CollaborativeInfo info;
  absl::StatusOr<CollaborativeModel> model = FitCollaborative(Log(), Options(), &info);
  ASSERT_TRUE(model.ok()) << model.status();
  EXPECT_EQ(info.users, 41);
  EXPECT_EQ(info.ease_videos, 6);
  for (int t : {kCollabItemKnn, kCollabEase}) {
    const NeighbourTable& table = model->tables[t];
    ASSERT_FALSE(table.Neighbours(1).empty()) << CollabTableName(t);
    // Video 1's best neighbours are 2 and 3, never itself.
    const absl::Span<const VideoId> n = table.Neighbours(1);
    EXPECT_TRUE((n[0] == 2 || n[0] == 3) && (n[1] == 2 || n[1] == 3)) << CollabTableName(t);
    for (VideoId v : n) EXPECT_NE(v, 1u);
    const absl::Span<const float> w = table.Weights(1);
    for (size_t i = 1; i < w.size(); ++i) EXPECT_GE(w[i - 1], w[i]);
  }
  // Transitions follow the order: 1 -> 2 (next) beats 1 -> 3 (two later); nothing leads to 1.
  const NeighbourTable& next = model->tables[kCollabTransitions];
  ASSERT_GE(next.Neighbours(1).size(), 2u);
  EXPECT_EQ(next.Neighbours(1)[0], 2u);
  EXPECT_EQ(next.Neighbours(1)[1], 3u);
  for (VideoId v : next.Neighbours(2)) EXPECT_NE(v, 1u);

  // A user who engaged with 1 gets 2 and 3 from EASE, not 1 itself and not what they skip.
  featurestore::UserFeatures user;
  user.history.push_back({1, 0, 1.0f, featurestore::HistoryEntry::kClicked});
  std::vector<ScoredVideo> input, out;
  std::vector<VideoId> engaged;
  featurestore::EngagedVideos(user, &engaged);
  CollabInput(kCollabEase, engaged, &input);
  ASSERT_EQ(input.size(), 1u);
  const std::vector<VideoId> skip = {3};
  CollabScore(model->tables[kCollabEase], input, skip, 10, &out);
  ASSERT_FALSE(out.empty());
  EXPECT_EQ(out[0].video, 2u);
  for (const ScoredVideo& s : out) EXPECT_TRUE(s.video != 1 && s.video != 3);
}

TEST(CollaborativeTest, SaveLoadRoundTripsAndCorruptionIsDataLoss) {
  absl::StatusOr<CollaborativeModel> model = FitCollaborative(Log(), Options(), nullptr);
  ASSERT_TRUE(model.ok());
  const std::string path = ::testing::TempDir() + "/collab.bin";
  ASSERT_TRUE(SaveCollaborative(*model, path).ok());
  absl::StatusOr<std::shared_ptr<const CollaborativeModel>> back = LoadCollaborative(path);
  ASSERT_TRUE(back.ok()) << back.status();
  for (int t = 0; t < kNumCollabTables; ++t) {
    EXPECT_EQ((*back)->tables[t].rows(), model->tables[t].rows());
    EXPECT_EQ((*back)->tables[t].entries(), model->tables[t].entries());
    const auto a = model->tables[t].Weights(1), b = (*back)->tables[t].Weights(1);
    EXPECT_EQ(std::vector<float>(a.begin(), a.end()), std::vector<float>(b.begin(), b.end()));
  }
  // Flip one byte in the middle, then truncate: both are DataLoss, never a crash.
  std::string bytes;
  {
    std::ifstream f(path, std::ios::binary);
    bytes.assign(std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>());
  }
  for (const std::string& bad : {bytes.substr(0, bytes.size() / 2), [&] {
                                   std::string b = bytes;
                                   b[b.size() / 2] ^= 0x5a;
                                   return b;
                                 }()}) {
    std::ofstream(path, std::ios::binary | std::ios::trunc) << bad;
    EXPECT_EQ(LoadCollaborative(path).status().code(), absl::StatusCode::kDataLoss);
  }
  EXPECT_EQ(LoadCollaborative(path + ".absent").status().code(), absl::StatusCode::kNotFound);
}

TEST(CollaborativeTest, DenseEaseMatchesTheClosedForm) {
  CollabFitOptions o = Options();
  absl::StatusOr<DenseEase> ease = FitDenseEase(Log(), o);
  ASSERT_TRUE(ease.ok());
  const size_t n = ease->videos.size();
  ASSERT_EQ(n, 6u);
  for (size_t i = 0; i < n; ++i) EXPECT_EQ(ease->weights[i * n + i], 0.0f);
  // Within a group the weights are positive and symmetric (equal popularity).
  const int a = ease->column.at(1), b = ease->column.at(2), c = ease->column.at(11);
  EXPECT_GT(ease->weights[a * n + b], 0.1f);
  EXPECT_NEAR(ease->weights[a * n + b], ease->weights[b * n + a], 1e-4);
  EXPECT_LT(std::abs(ease->weights[a * n + c]), ease->weights[a * n + b]);
}

// A small catalog keeps every EASE weight: the ease source then ranks exactly as the closed
// form, negative weights included, and the weights survive a save and load.
TEST(CollaborativeTest, SmallCatalogKeepsTheDenseEaseAndScoresWithEveryWeight) {
  CollaborativeInfo info;
  absl::StatusOr<CollaborativeModel> model = FitCollaborative(Log(), Options(), &info);
  ASSERT_TRUE(model.ok());
  EXPECT_TRUE(info.ease_dense());
  absl::StatusOr<DenseEase> closed = FitDenseEase(Log(), Options());
  ASSERT_TRUE(closed.ok());
  const DenseEase& dense = model->ease_dense;
  ASSERT_EQ(dense.videos, closed->videos);
  EXPECT_EQ(dense.weights, closed->weights);

  // Input 1 (skipping 3): every other column, scored by B[1, .], best first.
  const std::vector<ScoredVideo> input = {{1, 1.0f}};
  const std::vector<VideoId> skip = {3};
  std::vector<ScoredVideo> out;
  DenseEaseScore(dense, input, skip, 10, &out);
  ASSERT_EQ(out.size(), 4u);  // 6 videos minus the input and the skipped one
  EXPECT_EQ(out[0].video, 2u);
  const size_t n = dense.videos.size();
  const int row = dense.column.at(1);
  bool negative = false;
  for (size_t i = 0; i < out.size(); ++i) {
    EXPECT_FLOAT_EQ(out[i].score, dense.weights[row * n + dense.column.at(out[i].video)]);
    if (i > 0) EXPECT_GE(out[i - 1].score, out[i].score);
    negative |= out[i].score < 0;
  }
  EXPECT_TRUE(negative) << "the other taste group's videos carry negative weights";
  out.clear();
  DenseEaseScore(dense, {{99, 1.0f}}, {}, 10, &out);  // no input video has a row
  EXPECT_TRUE(out.empty());

  const std::string path = ::testing::TempDir() + "/collab_dense.bin";
  ASSERT_TRUE(SaveCollaborative(*model, path).ok());
  absl::StatusOr<std::shared_ptr<const CollaborativeModel>> back = LoadCollaborative(path);
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ((*back)->ease_dense.videos, dense.videos);
  EXPECT_EQ((*back)->ease_dense.weights, dense.weights);
  EXPECT_EQ((*back)->ease_dense.column.at(1), row);

  CollabFitOptions sparse_only = Options();
  sparse_only.ease_dense_max = 5;  // below the 6 videos
  absl::StatusOr<CollaborativeModel> big = FitCollaborative(Log(), sparse_only, &info);
  ASSERT_TRUE(big.ok());
  EXPECT_TRUE(big->ease_dense.empty());
  EXPECT_FALSE(info.ease_dense());
}

}  // namespace
}  // namespace vrec::retrieval
