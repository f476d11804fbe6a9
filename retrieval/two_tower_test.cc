#include "retrieval/two_tower.h"

#include <cmath>
#include <filesystem>
#include <vector>

#include "gtest/gtest.h"
#include "retrieval/internal/two_tower_net.h"

namespace vrec::retrieval {
namespace {

TwoTowerConfig SmallConfig(UserTower tower) {
  TwoTowerConfig c;
  c.user_tower = tower;
  c.embedding_dim = 16;
  c.id_dim = 8;
  c.category_dim = 8;
  c.hidden_dim = 32;
  c.transform.video_buckets = 256;
  c.transform.category_buckets = 64;
  c.transform.creator_buckets = 64;
  c.transform.tag_buckets = 64;
  return c;
}

// A user whose history is `videos`, most recent first.
featurestore::UserInputs UserWith(const std::vector<VideoId>& videos, uint32_t buckets) {
  featurestore::UserInputs u;
  for (size_t i = 0; i < videos.size(); ++i) {
    u.history[i] = featurestore::VideoBucket(videos[i], buckets);
    u.history_weight[i] = 1.0f;
  }
  return u;
}

std::vector<float> EmbedUser(const TwoTowerModel& model, const featurestore::UserInputs& user) {
  std::vector<float> out(model.dim());
  EXPECT_TRUE(model.EmbedUsers(absl::MakeConstSpan(&user, 1), out.data()).ok());
  return out;
}

std::unique_ptr<TwoTowerModel> Sequential() {
  auto model = TwoTowerModel::Create(SmallConfig(UserTower::kSequential), 7);
  EXPECT_TRUE(model.ok()) << model.status();
  (*model)->net().net->eval();
  return std::move(*model);
}

TEST(TwoTowerTest, VideoIdsIndexRowsDirectlyBelowTheTableSize) {
  EXPECT_EQ(featurestore::VideoBucket(0, 256), 1);
  EXPECT_EQ(featurestore::VideoBucket(254, 256), 255);
  const int64_t hashed = featurestore::VideoBucket(100000, 256);
  EXPECT_GE(hashed, 1);
  EXPECT_LT(hashed, 256);
}

TEST(TwoTowerTest, PooledTowerIsNormalised) {
  auto model = TwoTowerModel::Create(SmallConfig(UserTower::kPooled), 7);
  ASSERT_TRUE(model.ok()) << model.status();
  (*model)->net().net->eval();
  double norm = 0;
  for (float x : EmbedUser(**model, UserWith({3, 4, 5}, 256))) norm += x * x;
  EXPECT_NEAR(norm, 1.0, 1e-4);
}

// The sequential tower reads only the ids and their order: not the recency weights (which a
// long idle gap would change), and the order matters.
TEST(TwoTowerTest, SequentialTowerReadsOrderNotWeights) {
  const auto model = Sequential();
  featurestore::UserInputs user = UserWith({10, 11, 12}, 256);
  const std::vector<float> base = EmbedUser(*model, user);
  for (float& w : user.history_weight) w *= 0.001f;
  user.dense.fill(3.0f);
  EXPECT_EQ(EmbedUser(*model, user), base);
  EXPECT_NE(EmbedUser(*model, UserWith({12, 11, 10}, 256)), base);
}

// Position p sees the p-th most recent video and older ones only: changing a newer video leaves
// it unchanged, changing an older one does not.
TEST(TwoTowerTest, SequentialTowerIsCausal) {
  const auto model = Sequential();
  internal::TwoTowerNet& net = model->net().net;
  torch::NoGradGuard no_grad;
  const torch::Tensor a = torch::tensor({{5, 6, 7, 8}}, torch::kInt64);
  const torch::Tensor newer_changed = torch::tensor({{9, 6, 7, 8}}, torch::kInt64);
  const torch::Tensor older_changed = torch::tensor({{5, 6, 7, 20}}, torch::kInt64);
  const torch::Tensor s = net->EncodeSequence(a).first;
  const torch::Tensor n = net->EncodeSequence(newer_changed).first;
  const torch::Tensor o = net->EncodeSequence(older_changed).first;
  EXPECT_FALSE(torch::allclose(s.select(1, 0), n.select(1, 0)));
  for (int p = 1; p < 4; ++p) EXPECT_TRUE(torch::allclose(s.select(1, p), n.select(1, p))) << "position " << p;
  for (int p = 0; p < 4; ++p) EXPECT_FALSE(torch::allclose(s.select(1, p), o.select(1, p))) << "position " << p;
}

// A user without history gets one finite cold-start vector, whatever else they carry.
TEST(TwoTowerTest, SequentialColdStartIsFiniteAndShared) {
  const auto model = Sequential();
  featurestore::UserInputs a, b;
  b.country = 3;
  b.dense.fill(1.0f);
  const std::vector<float> ea = EmbedUser(*model, a);
  for (float x : ea) EXPECT_TRUE(std::isfinite(x));
  EXPECT_EQ(ea, EmbedUser(*model, b));
}

// A video's vector is its row of the table the history is embedded with; a batch with a longer
// history (more padding for the short one) does not change the short one's embedding.
TEST(TwoTowerTest, SequentialItemsAreTableRowsAndPaddingIsInert) {
  const auto model = Sequential();
  featurestore::VideoInputs v;
  v.video = featurestore::VideoBucket(42, 256);
  std::vector<float> e(model->dim());
  ASSERT_TRUE(model->EmbedVideos(absl::MakeConstSpan(&v, 1), e.data()).ok());
  const torch::Tensor row = model->net().net->items->weight[v.video];
  for (int i = 0; i < model->dim(); ++i) EXPECT_FLOAT_EQ(e[i], row[i].item<float>());

  const std::vector<featurestore::UserInputs> users = {UserWith({1, 2}, 256),
                                                       UserWith({3, 4, 5, 6, 7, 8, 9, 10}, 256)};
  std::vector<float> both(2 * model->dim());
  ASSERT_TRUE(model->EmbedUsers(users, both.data()).ok());
  const std::vector<float> alone = EmbedUser(*model, users[0]);
  for (int i = 0; i < model->dim(); ++i) EXPECT_NEAR(both[i], alone[i], 1e-5);
}

TEST(TwoTowerTest, SequentialSavesAndLoads) {
  const auto model = Sequential();
  const std::string path = std::string(std::getenv("TEST_TMPDIR") ? std::getenv("TEST_TMPDIR") : "/tmp") +
                           "/sequential_two_tower.pt";
  ASSERT_TRUE(model->Save(path).ok());
  auto loaded = TwoTowerModel::Load(path, model->config());
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  const featurestore::UserInputs user = UserWith({10, 20, 30}, 256);
  EXPECT_EQ(EmbedUser(**loaded, user), EmbedUser(*model, user));
  // Weights of the other tower do not load.
  EXPECT_FALSE(TwoTowerModel::Load(path, SmallConfig(UserTower::kPooled)).ok());
  std::filesystem::remove(path);
}

}  // namespace
}  // namespace vrec::retrieval
