// LibTorch modules of the two-tower model and the conversion of feature inputs to tensors.
// Included only by the .cc files that run or train the model (it costs ~20 s to compile).
#ifndef VREC_RETRIEVAL_INTERNAL_TWO_TOWER_NET_H_
#define VREC_RETRIEVAL_INTERNAL_TWO_TOWER_NET_H_

#include <torch/torch.h>

#include "absl/types/span.h"
#include "featurestore/transforms.h"
#include "retrieval/two_tower.h"

namespace vrec::retrieval::internal {

// A batch of user inputs as tensors.
struct UserBatch {
  torch::Tensor categorical;      // [B, 6] int64: country, language, age, device, hour, weekday
  torch::Tensor history;          // [B, kUserHistory] int64 hashed video ids (0 = padding)
  torch::Tensor history_weight;   // [B, kUserHistory] float
  torch::Tensor categories;       // [B, kUserTopCategories] int64
  torch::Tensor category_weight;  // [B, kUserTopCategories] float
  torch::Tensor dense;            // [B, kUserDense] float
};

struct VideoBatch {
  torch::Tensor video;            // [B] int64
  torch::Tensor categorical;      // [B, 4] int64: category, creator, language, duration bucket
  torch::Tensor tags;             // [B, kVideoTags] int64
  torch::Tensor dense;            // [B, kVideoDense] float
};

UserBatch ToUserBatch(absl::Span<const featurestore::UserInputs> users);
VideoBatch ToVideoBatch(absl::Span<const featurestore::VideoInputs> videos);

struct TwoTowerNetImpl : torch::nn::Module {
  explicit TwoTowerNetImpl(const TwoTowerConfig& config);

  // [B, dim], L2-normalised.
  torch::Tensor EmbedUsers(const UserBatch& batch);
  torch::Tensor EmbedVideos(const VideoBatch& batch);

  // Parameters of the sparse embedding tables (trained with a sparse optimiser) and the rest.
  std::vector<torch::Tensor> SparseParameters();
  std::vector<torch::Tensor> DenseParameters();

  TwoTowerConfig config;
  torch::nn::Embedding video_ids{nullptr};   // shared: item id and user history
  torch::nn::Embedding categories{nullptr};  // shared: item category and user top categories
  torch::nn::Embedding tags{nullptr};
  torch::nn::Embedding creators{nullptr};
  torch::nn::Embedding user_small{nullptr};  // country, language, age, device, hour, weekday (offset)
  torch::nn::Embedding item_small{nullptr};  // language, duration bucket (offset)
  torch::nn::Sequential user_mlp{nullptr};
  torch::nn::Sequential item_mlp{nullptr};
};
TORCH_MODULE(TwoTowerNet);

class TwoTowerNetHolder {
 public:
  explicit TwoTowerNetHolder(TwoTowerNet net) : net(std::move(net)) {}
  TwoTowerNet net;
};

}  // namespace vrec::retrieval::internal

#endif  // VREC_RETRIEVAL_INTERNAL_TWO_TOWER_NET_H_
