#include "ranking/ranker.h"

#include <cmath>
#include <cstdio>
#include <fstream>
#include <vector>

#include "common/random.h"
#include "gtest/gtest.h"
#include "ranking/internal/ranker_net.h"

namespace vrec::ranking {
namespace {

RankerConfig SmallConfig() {
  RankerConfig c;
  c.hidden_dim = 32;
  c.hidden2_dim = 16;
  c.transform.video_buckets = 1 << 10;
  c.transform.creator_buckets = 1 << 8;
  return c;
}

std::string TempPath(const std::string& name) {
  const char* dir = std::getenv("TEST_TMPDIR");
  return std::string(dir ? dir : "/tmp") + "/" + name;
}

featurestore::VideoInputs RandomVideo(Rng& rng) {
  featurestore::VideoInputs v;
  v.video = 1 + rng.UniformInt(1000);
  v.category = 1 + rng.UniformInt(20);
  v.creator = 1 + rng.UniformInt(200);
  v.duration_bucket = 1 + rng.UniformInt(8);
  for (float& x : v.dense) x = static_cast<float>(rng.Uniform());
  return v;
}

featurestore::UserInputs RandomUser(Rng& rng) {
  featurestore::UserInputs u;
  u.country = 1 + rng.UniformInt(50);
  u.hour = rng.UniformInt(24);
  for (int i = 0; i < 5; ++i) {
    u.history[i] = 1 + rng.UniformInt(1000);
    u.history_weight[i] = 1.0f;
  }
  for (float& x : u.dense) x = static_cast<float>(rng.Uniform());
  return u;
}

TEST(RankerTest, OneUserBatchMatchesPerExampleScoringAndSurvivesSaveLoad) {
  auto model = RankerModel::Create(SmallConfig(), 3);
  ASSERT_TRUE(model.ok()) << model.status();
  Rng rng(5);
  const featurestore::UserInputs user = RandomUser(rng);
  std::vector<featurestore::VideoInputs> videos;
  std::vector<CrossInputs> cross(40);
  for (int i = 0; i < 40; ++i) {
    videos.push_back(RandomVideo(rng));
    cross[i].dense[kCrossRetrievalScore] = static_cast<float>(rng.Uniform());
  }
  std::vector<float> batched(40 * kNumRankerHeads), single(40 * kNumRankerHeads);
  ASSERT_TRUE((*model)->Score(user, videos, cross, batched.data()).ok());
  const std::vector<featurestore::UserInputs> users(40, user);
  ASSERT_TRUE((*model)->ScoreExamples(users, videos, cross, single.data()).ok());
  for (size_t i = 0; i < batched.size(); ++i) {
    EXPECT_NEAR(batched[i], single[i], 1e-5);
    EXPECT_GT(batched[i], 0.0f);
    EXPECT_LT(batched[i], 1.0f);
  }
  // Misaligned input is an error, not a crash.
  EXPECT_FALSE((*model)->Score(user, videos, absl::MakeConstSpan(cross).subspan(1), batched.data()).ok());

  const std::string path = TempPath("ranker_roundtrip.pt");
  ASSERT_TRUE((*model)->Save(path).ok());
  auto loaded = RankerModel::Load(path, SmallConfig());
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  std::vector<float> again(40 * kNumRankerHeads);
  ASSERT_TRUE((*loaded)->Score(user, videos, cross, again.data()).ok());
  for (size_t i = 0; i < again.size(); ++i) EXPECT_FLOAT_EQ(again[i], batched[i]);
}

TEST(RankerTest, CombinesHeadsByTheirWeights) {
  RankerConfig c = SmallConfig();
  c.head_weights = {1.0f, 0.5f, 2.0f, 1.0f};
  auto loaded = RankerModel::Create(c, 1);
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  const float heads[kNumRankerHeads] = {0.5f, 0.2f, 0.1f, 0.8f};
  // Engagement weighted, times the exposure odds 0.8 / 0.2.
  EXPECT_FLOAT_EQ((*loaded)->Combine(heads), (0.5f + 0.1f + 0.2f) * 4.0f);
  RankerModel& mutable_model = const_cast<RankerModel&>(**loaded);
  mutable_model.set_head_weights({1.0f, 0.5f, 2.0f, 0.0f});  // conditional on being shown
  EXPECT_FLOAT_EQ((*loaded)->Combine(heads), 0.5f + 0.1f + 0.2f);
}

// The network learns a click signal carried by a cross feature and by the user-video match:
// a few hundred steps must separate clicked from non-clicked examples on held-out data.
TEST(RankerTest, LearnsASignalFromCrossAndInteractionFeatures) {
  auto model = RankerModel::Create(SmallConfig(), 11);
  ASSERT_TRUE(model.ok());
  internal::RankerNet& net = (*model)->net().net;
  torch::optim::Adam dense(net->DenseParameters(), torch::optim::AdamOptions(3e-3));
  torch::optim::Adagrad sparse(net->SparseParameters(), torch::optim::AdagradOptions(0.05));
  Rng rng(7);
  auto make = [&](int n, std::vector<featurestore::UserInputs>* users, std::vector<featurestore::VideoInputs>* videos,
                  std::vector<CrossInputs>* cross, std::vector<float>* labels) {
    for (int i = 0; i < n; ++i) {
      featurestore::UserInputs u = RandomUser(rng);
      featurestore::VideoInputs v = RandomVideo(rng);
      CrossInputs c;
      const bool positive = rng.Bernoulli(0.5);
      c.dense[kCrossCategoryShare] = positive ? 0.6f + 0.4f * rng.Uniform() : 0.5f * rng.Uniform();
      if (positive) u.history[0] = v.video;  // the video is in the user's history
      users->push_back(u);
      videos->push_back(v);
      cross->push_back(c);
      labels->push_back(positive ? 1.0f : 0.0f);
    }
  };
  net->train();
  for (int step = 0; step < 300; ++step) {
    std::vector<featurestore::UserInputs> users;
    std::vector<featurestore::VideoInputs> videos;
    std::vector<CrossInputs> cross;
    std::vector<float> labels;
    make(64, &users, &videos, &cross, &labels);
    const torch::Tensor logits = net->Logits(net->User(internal::PackUsers(users)), internal::PackVideos(videos, cross));
    const torch::Tensor y = torch::from_blob(labels.data(), {64, 1}).expand({64, kNumRankerHeads});
    const torch::Tensor loss = torch::binary_cross_entropy_with_logits(logits, y);
    dense.zero_grad();
    sparse.zero_grad();
    loss.backward();
    dense.step();
    // Tables no example touched (tags here) have empty sparse gradients, which LibTorch
    // 1.13's Adagrad cannot take (the trainers skip them the same way).
    for (torch::Tensor& p : sparse.param_groups()[0].params()) {
      if (p.grad().defined() && p.grad()._nnz() == 0) p.mutable_grad() = torch::Tensor();
    }
    sparse.step();
  }
  net->eval();
  std::vector<featurestore::UserInputs> users;
  std::vector<featurestore::VideoInputs> videos;
  std::vector<CrossInputs> cross;
  std::vector<float> labels;
  make(400, &users, &videos, &cross, &labels);
  std::vector<float> heads(400 * kNumRankerHeads);
  ASSERT_TRUE((*model)->ScoreExamples(users, videos, cross, heads.data()).ok());
  int correct = 0;
  for (int i = 0; i < 400; ++i) correct += (heads[i * kNumRankerHeads + kHeadClick] > 0.5f) == (labels[i] > 0.5f);
  EXPECT_GT(correct, 360);
}

}  // namespace
}  // namespace vrec::ranking
