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

// One pre-norm transformer block of the sequential user tower.
struct SequenceBlockImpl : torch::nn::Module {
  SequenceBlockImpl(int64_t dim, int64_t heads, double dropout);
  // x [B, L, D]; allowed [B, 1, L, L] (query i may attend to key j).
  torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& allowed);

  int64_t heads;
  torch::nn::LayerNorm attention_norm{nullptr}, ffn_norm{nullptr};
  torch::nn::Linear qkv{nullptr}, out{nullptr}, ffn_in{nullptr}, ffn_out{nullptr};
  torch::nn::Dropout dropout{nullptr};
};
TORCH_MODULE(SequenceBlock);

struct TwoTowerNetImpl : torch::nn::Module {
  explicit TwoTowerNetImpl(const TwoTowerConfig& config);

  // [B, dim] (L2-normalised when pooled).
  torch::Tensor EmbedUsers(const UserBatch& batch);
  torch::Tensor EmbedVideos(const VideoBatch& batch);

  // Parameters of the sparse embedding tables (trained with a sparse optimiser) and the rest.
  // The embedding tables with sparse gradients (the sequential tower: its item table).
  std::vector<torch::Tensor> SparseParameters();
  std::vector<torch::Tensor> DenseParameters();

  // Sequential tower: the state after every history position, [B, L, dim] for the batch's
  // longest history L (position i has seen the i-th most recent video and older ones only),
  // and which positions hold a video ([B, L] bool; position 0 always counts). Position 0 is the
  // user embedding; position i >= 1 predicts the video at position i - 1, which training uses to
  // learn from every step of a history at once.
  std::pair<torch::Tensor, torch::Tensor> EncodeSequence(const torch::Tensor& history);

  TwoTowerConfig config;
  torch::nn::Embedding video_ids{nullptr};   // shared: item id and user history
  torch::nn::Embedding categories{nullptr};  // shared: item category and user top categories
  torch::nn::Embedding tags{nullptr};
  torch::nn::Embedding creators{nullptr};
  torch::nn::Embedding user_small{nullptr};  // country, language, age, device, hour, weekday (offset)
  torch::nn::Embedding item_small{nullptr};  // language, duration bucket (offset)
  torch::nn::Sequential user_mlp{nullptr};
  torch::nn::Sequential item_mlp{nullptr};
  // Sequential tower only.
  torch::nn::Embedding items{nullptr};       // video id -> embedding: history tokens and item vectors
  torch::nn::Embedding positions{nullptr};   // recency position in the history
  torch::nn::ModuleList blocks{nullptr};
  torch::nn::LayerNorm final_norm{nullptr};
  torch::nn::Dropout input_dropout{nullptr};

};
TORCH_MODULE(TwoTowerNet);

class TwoTowerNetHolder {
 public:
  explicit TwoTowerNetHolder(TwoTowerNet net) : net(std::move(net)) {}
  TwoTowerNet net;
};

}  // namespace vrec::retrieval::internal

#endif  // VREC_RETRIEVAL_INTERNAL_TWO_TOWER_NET_H_
