// The two-tower retrieval model: a user's affinity for a video is the dot product of a user
// embedding and a video embedding, so candidate generation is a nearest-neighbour search in the
// item index. Two user towers share the item side's id space:
// - pooled: profile, context, the weighted mean of the recent history's and top categories'
//   embeddings and dense activity features through an MLP; the item tower embeds the video id,
//   category, tags, creator, language, duration and dense counters through an MLP. Both ends
//   are L2-normalised (cosine, trained with a temperature).
// - sequential (SASRec-style): causal self-attention over the user's recent history in order
//   (most recent first, learned position embeddings), read out at the most recent position; a
//   video's embedding is its id's row of the same table the history is embedded with. Scores
//   are plain dot products.
// Training (training/) and serving share this one definition. The header is LibTorch-free;
// the modules are in internal/two_tower_net.h.
#ifndef VREC_RETRIEVAL_TWO_TOWER_H_
#define VREC_RETRIEVAL_TWO_TOWER_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "featurestore/transforms.h"

namespace vrec::retrieval {

enum class UserTower { kPooled, kSequential };
const char* UserTowerName(UserTower tower);  // "pooled", "sequential"
absl::StatusOr<UserTower> ParseUserTower(const std::string& name);

struct TwoTowerConfig {
  UserTower user_tower = UserTower::kPooled;
  int embedding_dim = 64;   // output dimension of both towers
  int id_dim = 32;          // hashed video-id embedding width (shared by both towers)
  int category_dim = 16;    // category, tag and creator embedding width
  int hidden_dim = 256;     // hidden layer of each tower's MLP (pooled)
  int sequence_layers = 2;  // self-attention blocks (sequential)
  int sequence_heads = 2;
  float sequence_dropout = 0.2f;  // training only
  featurestore::TransformOptions transform;  // hash bucket counts; must match the features fed in

  [[nodiscard]] absl::Status Validate() const;
};

namespace internal {
class TwoTowerNetHolder;
}  // namespace internal

// Thread-safe for concurrent Embed* calls once loaded (inference only, no autograd state).
class TwoTowerModel {
 public:
  // A freshly initialised model (weights from `seed`).
  static absl::StatusOr<std::unique_ptr<TwoTowerModel>> Create(const TwoTowerConfig& config, uint64_t seed);
  // Loads weights saved by Save(); the config must be the one they were trained with.
  static absl::StatusOr<std::unique_ptr<TwoTowerModel>> Load(const std::string& path, const TwoTowerConfig& config);
  ~TwoTowerModel();

  [[nodiscard]] absl::Status Save(const std::string& path) const;

  // Row-major embeddings, one row of embedding_dim floats per input (L2-normalised when pooled).
  [[nodiscard]] absl::Status EmbedUsers(absl::Span<const featurestore::UserInputs> users, float* out) const;
  [[nodiscard]] absl::Status EmbedVideos(absl::Span<const featurestore::VideoInputs> videos, float* out) const;

  const TwoTowerConfig& config() const { return config_; }
  int dim() const { return config_.embedding_dim; }
  // The trainable network (for training/ only).
  internal::TwoTowerNetHolder& net() { return *net_; }

 private:
  TwoTowerModel(const TwoTowerConfig& config, std::unique_ptr<internal::TwoTowerNetHolder> net);
  TwoTowerConfig config_;
  std::unique_ptr<internal::TwoTowerNetHolder> net_;
};

// LibTorch's intra-op threads for this process (serving runs one small forward per request
// on each server thread, so 1 there).
void SetModelThreads(int threads);

}  // namespace vrec::retrieval

#endif  // VREC_RETRIEVAL_TWO_TOWER_H_
