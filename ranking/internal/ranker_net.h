// LibTorch modules of the ranker and the packing of feature inputs into tensors. Included only
// by the .cc files that run or train the ranker (it costs ~20 s to compile).
#ifndef VREC_RANKING_INTERNAL_RANKER_NET_H_
#define VREC_RANKING_INTERNAL_RANKER_NET_H_

#include <torch/torch.h>

#include "absl/types/span.h"
#include "featurestore/transforms.h"
#include "ranking/cross_features.h"
#include "ranking/ranker.h"

namespace vrec::ranking::internal {

// Column layout of the packed tensors.
inline constexpr int kRankerUserInts =
    6 + featurestore::kUserHistory + featurestore::kUserTopCategories;  // small, history, categories
inline constexpr int kRankerUserFloats =
    featurestore::kUserHistory + featurestore::kUserTopCategories + featurestore::kUserDense;
inline constexpr int kRankerVideoInts =
    5 + featurestore::kVideoTags;  // id, category, creator, language, duration, tags
inline constexpr int kRankerVideoFloats = featurestore::kVideoDense + kCrossFeatures;
inline constexpr int kRankerPositions = 32;

// Users as [B, kRankerUserInts] int64 and [B, kRankerUserFloats] float.
struct RankerUsers {
  torch::Tensor ints;
  torch::Tensor floats;
};
// Videos as [B, kRankerVideoInts] int64 and [B, kRankerVideoFloats] float (dense, then cross).
struct RankerVideos {
  torch::Tensor ints;
  torch::Tensor floats;
};

// Fills preallocated rows (no allocation per row).
void PackUser(const featurestore::UserInputs& user, int64_t* ints, float* floats);
void PackVideo(const featurestore::VideoInputs& video, const CrossInputs& cross, int64_t* ints, float* floats);
RankerUsers PackUsers(absl::Span<const featurestore::UserInputs> users);
RankerVideos PackVideos(absl::Span<const featurestore::VideoInputs> videos, absl::Span<const CrossInputs> cross);

// The user's side of the first layer and its pooled embeddings (for the interactions).
struct UserPart {
  torch::Tensor projected;  // [B, hidden_dim]
  torch::Tensor history;    // [B, id_dim] pooled history id embeddings
  torch::Tensor categories; // [B, category_dim] pooled top-category embeddings
};

struct RankerNetImpl : torch::nn::Module {
  explicit RankerNetImpl(const RankerConfig& config);

  UserPart User(const RankerUsers& users);
  // Head logits [B, kNumRankerHeads]; `user` has B rows or 1 (broadcast over all videos).
  torch::Tensor Logits(const UserPart& user, const RankerVideos& videos);

  // Training only: the per-head logit offset of a feed position (0-based; kUnknownPosition or
  // beyond kRankerPositions-1 share the last row), so that position bias in the logged labels
  // is explained by position, not by the features. Serving adds none (position unknown).
  torch::Tensor PositionBias(const torch::Tensor& positions);

  std::vector<torch::Tensor> SparseParameters();
  std::vector<torch::Tensor> DenseParameters();

  RankerConfig config;
  torch::nn::Embedding video_ids{nullptr};
  torch::nn::Embedding categories{nullptr};
  torch::nn::Embedding tags{nullptr};
  torch::nn::Embedding creators{nullptr};
  torch::nn::Embedding user_small{nullptr};
  torch::nn::Embedding item_small{nullptr};
  torch::nn::LayerNorm user_norm{nullptr};
  torch::nn::LayerNorm video_norm{nullptr};
  torch::nn::Linear user_proj{nullptr};
  torch::nn::Linear video_proj{nullptr};
  torch::nn::Linear hidden{nullptr};
  torch::nn::Linear heads{nullptr};
  torch::nn::Embedding position_bias{nullptr};  // [kRankerPositions, kNumRankerHeads]
  torch::Tensor user_offsets;  // [1, 6] row offsets of the small user embeddings
};
TORCH_MODULE(RankerNet);

class RankerNetHolder {
 public:
  explicit RankerNetHolder(RankerNet net) : net(std::move(net)) {}
  RankerNet net;
};

}  // namespace vrec::ranking::internal

#endif  // VREC_RANKING_INTERNAL_RANKER_NET_H_
