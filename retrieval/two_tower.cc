#include "retrieval/two_tower.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>

#include "absl/strings/str_cat.h"
#include "common/status.h"
#include "common/torch_load.h"
#include "retrieval/internal/two_tower_net.h"

namespace vrec::retrieval {
namespace internal {
namespace {

constexpr int kSmallDim = 8;

torch::Tensor Pool(const torch::Tensor& embeddings, const torch::Tensor& weights) {
  // embeddings [B, N, D], weights [B, N] -> weighted mean [B, D]; all-zero weights give zeros.
  const torch::Tensor w = weights.unsqueeze(-1);
  return (embeddings * w).sum(1) / (w.sum(1) + 1e-6);
}

torch::nn::Embedding SparseTable(int64_t rows, int64_t dim) {
  torch::nn::Embedding table(torch::nn::EmbeddingOptions(rows, dim).sparse(true).padding_idx(0));
  torch::NoGradGuard no_grad;
  table->weight.normal_(0.0, 0.1);
  table->weight[0].zero_();
  return table;
}

// Dropout as torch::nn::Dropout computes it, with a cheaper mask: LibTorch 1.13's CPU
// bernoulli_ draws every element from the generator one at a time (about an eighth of a
// sequential training step); here one draw seeds a SplitMix64 stream that yields eight mask
// bytes per call. The drop probability is p rounded to a multiple of 1/256. Deterministic under
// torch::manual_seed.
torch::Tensor Dropout(const torch::Tensor& x, const torch::nn::Dropout& module, bool training) {
  const double p = module->options.p();
  if (!training || p <= 0) return x;
  const uint32_t threshold = static_cast<uint32_t>(std::lround(p * 256));
  if (threshold == 0) return x;
  const float scale = static_cast<float>(256.0 / (256 - threshold));
  torch::Tensor mask = torch::empty(x.sizes(), torch::kFloat32);
  float* out = mask.data_ptr<float>();
  const int64_t n = mask.numel();
  uint64_t state = static_cast<uint64_t>(torch::randint(std::numeric_limits<int64_t>::max(), {1}).item<int64_t>());
  for (int64_t i = 0; i < n; i += 8) {
    state += 0x9E3779B97F4A7C15ull;
    uint64_t z = state;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    z ^= z >> 31;
    for (int64_t j = i; j < std::min(n, i + 8); ++j, z >>= 8) out[j] = (z & 0xFF) >= threshold ? scale : 0.0f;
  }
  return x * mask;
}

torch::nn::Sequential Mlp(int64_t in, int64_t hidden, int64_t out) {
  return torch::nn::Sequential(torch::nn::LayerNorm(torch::nn::LayerNormOptions({in})),
                               torch::nn::Linear(in, hidden), torch::nn::ReLU(), torch::nn::Linear(hidden, out));
}

}  // namespace

UserBatch ToUserBatch(absl::Span<const featurestore::UserInputs> users) {
  const int64_t n = static_cast<int64_t>(users.size());
  UserBatch b;
  b.categorical = torch::empty({n, 6}, torch::kInt64);
  b.history = torch::empty({n, featurestore::kUserHistory}, torch::kInt64);
  b.history_weight = torch::empty({n, featurestore::kUserHistory}, torch::kFloat32);
  b.categories = torch::empty({n, featurestore::kUserTopCategories}, torch::kInt64);
  b.category_weight = torch::empty({n, featurestore::kUserTopCategories}, torch::kFloat32);
  b.dense = torch::empty({n, featurestore::kUserDense}, torch::kFloat32);
  int64_t* cat = b.categorical.data_ptr<int64_t>();
  int64_t* hist = b.history.data_ptr<int64_t>();
  float* hw = b.history_weight.data_ptr<float>();
  int64_t* cats = b.categories.data_ptr<int64_t>();
  float* cw = b.category_weight.data_ptr<float>();
  float* dense = b.dense.data_ptr<float>();
  for (int64_t i = 0; i < n; ++i) {
    const featurestore::UserInputs& u = users[i];
    const int64_t row[6] = {u.country, u.language, u.age_bucket, u.device, u.hour, u.weekday};
    std::memcpy(cat + i * 6, row, sizeof(row));
    std::memcpy(hist + i * featurestore::kUserHistory, u.history.data(), sizeof(u.history));
    std::memcpy(hw + i * featurestore::kUserHistory, u.history_weight.data(), sizeof(u.history_weight));
    std::memcpy(cats + i * featurestore::kUserTopCategories, u.top_categories.data(), sizeof(u.top_categories));
    std::memcpy(cw + i * featurestore::kUserTopCategories, u.top_category_weight.data(), sizeof(u.top_category_weight));
    std::memcpy(dense + i * featurestore::kUserDense, u.dense.data(), sizeof(u.dense));
  }
  return b;
}

VideoBatch ToVideoBatch(absl::Span<const featurestore::VideoInputs> videos) {
  const int64_t n = static_cast<int64_t>(videos.size());
  VideoBatch b;
  b.video = torch::empty({n}, torch::kInt64);
  b.categorical = torch::empty({n, 4}, torch::kInt64);
  b.tags = torch::empty({n, featurestore::kVideoTags}, torch::kInt64);
  b.dense = torch::empty({n, featurestore::kVideoDense}, torch::kFloat32);
  int64_t* id = b.video.data_ptr<int64_t>();
  int64_t* cat = b.categorical.data_ptr<int64_t>();
  int64_t* tags = b.tags.data_ptr<int64_t>();
  float* dense = b.dense.data_ptr<float>();
  for (int64_t i = 0; i < n; ++i) {
    const featurestore::VideoInputs& v = videos[i];
    id[i] = v.video;
    const int64_t row[4] = {v.category, v.creator, v.language, v.duration_bucket};
    std::memcpy(cat + i * 4, row, sizeof(row));
    std::memcpy(tags + i * featurestore::kVideoTags, v.tags.data(), sizeof(v.tags));
    std::memcpy(dense + i * featurestore::kVideoDense, v.dense.data(), sizeof(v.dense));
  }
  return b;
}

SequenceBlockImpl::SequenceBlockImpl(int64_t dim, int64_t heads, double dropout_p) : heads(heads) {
  attention_norm = register_module("attention_norm", torch::nn::LayerNorm(torch::nn::LayerNormOptions({dim})));
  qkv = register_module("qkv", torch::nn::Linear(dim, 3 * dim));
  out = register_module("out", torch::nn::Linear(dim, dim));
  ffn_norm = register_module("ffn_norm", torch::nn::LayerNorm(torch::nn::LayerNormOptions({dim})));
  ffn_in = register_module("ffn_in", torch::nn::Linear(dim, dim));
  ffn_out = register_module("ffn_out", torch::nn::Linear(dim, dim));
  dropout = register_module("dropout", torch::nn::Dropout(dropout_p));
}

torch::Tensor SequenceBlockImpl::forward(const torch::Tensor& x, const torch::Tensor& allowed) {
  const int64_t b = x.size(0), l = x.size(1), d = x.size(2), head_dim = d / heads;
  // [B, L, 3, H, d/H] -> three [B, H, L, d/H].
  const torch::Tensor parts = qkv(attention_norm(x)).view({b, l, 3, heads, head_dim}).permute({2, 0, 3, 1, 4});
  torch::Tensor scores = parts[0].matmul(parts[1].transpose(-1, -2)) / std::sqrt(static_cast<double>(head_dim));
  scores = scores.masked_fill(allowed.logical_not(), -1e9);
  const torch::Tensor attention = Dropout(torch::softmax(scores, -1), dropout, is_training());
  const torch::Tensor mixed = attention.matmul(parts[2]).transpose(1, 2).reshape({b, l, d});
  const torch::Tensor h = x + Dropout(out(mixed), dropout, is_training());
  return h + Dropout(ffn_out(Dropout(torch::relu(ffn_in(ffn_norm(h))), dropout, is_training())), dropout,
                     is_training());
}

TwoTowerNetImpl::TwoTowerNetImpl(const TwoTowerConfig& c) : config(c) {
  const featurestore::TransformOptions& t = c.transform;
  if (c.user_tower == UserTower::kSequential) {
    const int64_t d = c.embedding_dim;
    // Sparse gradients: a step touches the rows of its batch's videos (or of the candidates,
    // under a full softmax), never the whole table.
    items = register_module(
        "items", torch::nn::Embedding(torch::nn::EmbeddingOptions(t.video_buckets, d).padding_idx(0).sparse(true)));
    positions = register_module("positions", torch::nn::Embedding(featurestore::kUserHistory, d));
    blocks = register_module("blocks", torch::nn::ModuleList());
    for (int i = 0; i < c.sequence_layers; ++i) blocks->push_back(SequenceBlock(d, c.sequence_heads, c.sequence_dropout));
    final_norm = register_module("final_norm", torch::nn::LayerNorm(torch::nn::LayerNormOptions({d})));
    input_dropout = register_module("input_dropout", torch::nn::Dropout(c.sequence_dropout));
    // Xavier-normal on every matrix, as SASRec does. The item table's fan counts the videos it
    // holds (half its rows: the table is twice the id range), not its spare rows; default
    // N(0, 1) positions would drown the items' identity (scaled to about 0.1) twenty to one.
    torch::NoGradGuard no_grad;
    for (torch::Tensor& p : parameters()) {
      if (p.dim() == 2) torch::nn::init::xavier_normal_(p);
    }
    items->weight.normal_(0.0, std::sqrt(2.0 / (t.video_buckets / 2.0 + d)));
    items->weight[0].zero_();
    return;
  }
  video_ids = register_module("video_ids", SparseTable(t.video_buckets, c.id_dim));
  categories = register_module("categories", SparseTable(t.category_buckets, c.category_dim));
  tags = register_module("tags", SparseTable(t.tag_buckets, c.category_dim));
  creators = register_module("creators", SparseTable(t.creator_buckets, c.category_dim));
  const int64_t user_rows = t.country_buckets + t.language_buckets + 7 + kNumDevices + 24 + 7;
  user_small = register_module("user_small", SparseTable(user_rows, kSmallDim));
  item_small = register_module("item_small", SparseTable(t.language_buckets + 9, kSmallDim));
  const int64_t user_in = 6 * kSmallDim + c.id_dim + c.category_dim + featurestore::kUserDense;
  const int64_t item_in = c.id_dim + 3 * c.category_dim + 2 * kSmallDim + featurestore::kVideoDense;
  user_mlp = register_module("user_mlp", Mlp(user_in, c.hidden_dim, c.embedding_dim));
  item_mlp = register_module("item_mlp", Mlp(item_in, c.hidden_dim, c.embedding_dim));
}

std::pair<torch::Tensor, torch::Tensor> TwoTowerNetImpl::EncodeSequence(const torch::Tensor& history) {
  // Only as many positions as the longest history in the batch (histories are packed, most
  // recent first, padding 0 at the end).
  const torch::Tensor present = history.gt(0);
  const int64_t longest = std::max<int64_t>(1, present.sum(1).max().item<int64_t>());
  const torch::Tensor ids = history.narrow(1, 0, longest);
  // Position 0 always takes part: a user without history reads out the position embedding
  // alone (the cold-start query).
  torch::Tensor keep = present.narrow(1, 0, longest).clone();
  keep.select(1, 0).fill_(true);
  const int64_t d = config.embedding_dim;
  torch::Tensor x = items(ids) * std::sqrt(static_cast<double>(d)) + positions->weight.narrow(0, 0, longest).unsqueeze(0);
  x = Dropout(x, input_dropout, is_training()) * keep.unsqueeze(-1);
  // Causal in time: position i (i-th most recent) attends to itself and to older positions.
  const torch::Tensor causal = torch::ones({longest, longest}, torch::kBool).triu();
  const torch::Tensor allowed = (causal.unsqueeze(0) & keep.unsqueeze(1)).unsqueeze(1);  // [B, 1, L, L]
  for (const std::shared_ptr<torch::nn::Module>& block : *blocks) {
    x = block->as<SequenceBlock>()->forward(x, allowed) * keep.unsqueeze(-1);
  }
  return {final_norm(x), keep};
}

torch::Tensor TwoTowerNetImpl::EmbedUsers(const UserBatch& b) {
  if (config.user_tower == UserTower::kSequential) return EncodeSequence(b.history).first.select(1, 0);
  const featurestore::TransformOptions& t = config.transform;
  const int64_t offsets[6] = {int64_t{0},
                              t.country_buckets,
                              t.country_buckets + t.language_buckets,
                              t.country_buckets + t.language_buckets + 7,
                              t.country_buckets + t.language_buckets + 7 + kNumDevices,
                              t.country_buckets + t.language_buckets + 7 + kNumDevices + 24};
  const torch::Tensor shifted = b.categorical + torch::tensor(std::vector<int64_t>(offsets, offsets + 6)).unsqueeze(0);
  const torch::Tensor small = user_small(shifted).flatten(1);  // [B, 6 * 8]
  const torch::Tensor history = Pool(video_ids(b.history), b.history_weight);
  const torch::Tensor cats = Pool(categories(b.categories), b.category_weight);
  const torch::Tensor x = torch::cat({small, history, cats, b.dense}, 1);
  return torch::nn::functional::normalize(user_mlp->forward(x),
                                          torch::nn::functional::NormalizeFuncOptions().dim(1));
}

torch::Tensor TwoTowerNetImpl::EmbedVideos(const VideoBatch& b) {
  if (config.user_tower == UserTower::kSequential) return items(b.video);
  const featurestore::TransformOptions& t = config.transform;
  const torch::Tensor id = video_ids(b.video);
  const torch::Tensor category = categories(b.categorical.select(1, 0));
  const torch::Tensor creator = creators(b.categorical.select(1, 1));
  const torch::Tensor language = item_small(b.categorical.select(1, 2));
  const torch::Tensor duration = item_small(b.categorical.select(1, 3) + static_cast<int64_t>(t.language_buckets));
  const torch::Tensor tag_weight = (b.tags > 0).to(torch::kFloat32);
  const torch::Tensor tag = Pool(tags(b.tags), tag_weight);
  const torch::Tensor x = torch::cat({id, category, creator, tag, language, duration, b.dense}, 1);
  return torch::nn::functional::normalize(item_mlp->forward(x),
                                          torch::nn::functional::NormalizeFuncOptions().dim(1));
}

std::vector<torch::Tensor> TwoTowerNetImpl::SparseParameters() {
  if (config.user_tower == UserTower::kSequential) return {items->weight};
  return {video_ids->weight, categories->weight, tags->weight, creators->weight, user_small->weight,
          item_small->weight};
}

std::vector<torch::Tensor> TwoTowerNetImpl::DenseParameters() {
  std::vector<torch::Tensor> out;
  if (config.user_tower == UserTower::kSequential) {
    for (const torch::Tensor& p : parameters()) {
      if (!p.is_same(items->weight)) out.push_back(p);
    }
    return out;
  }
  for (const torch::Tensor& p : user_mlp->parameters()) out.push_back(p);
  for (const torch::Tensor& p : item_mlp->parameters()) out.push_back(p);
  return out;
}

}  // namespace internal

const char* UserTowerName(UserTower tower) {
  return tower == UserTower::kSequential ? "sequential" : "pooled";
}

absl::StatusOr<UserTower> ParseUserTower(const std::string& name) {
  if (name == "pooled") return UserTower::kPooled;
  if (name == "sequential") return UserTower::kSequential;
  return absl::InvalidArgumentError(absl::StrCat("unknown user tower '", name, "' (pooled or sequential)"));
}

absl::Status TwoTowerConfig::Validate() const {
  if (embedding_dim < 2 || embedding_dim > 1024) return absl::InvalidArgumentError("embedding dim must be in [2, 1024]");
  if (user_tower == UserTower::kSequential &&
      (sequence_layers < 1 || sequence_heads < 1 || embedding_dim % sequence_heads != 0 || sequence_dropout < 0 ||
       sequence_dropout >= 1)) {
    return absl::InvalidArgumentError(
        "the sequential tower needs at least one layer and head, heads dividing the embedding dim, and dropout in [0, 1)");
  }
  if (id_dim < 1 || category_dim < 1 || hidden_dim < 1) return absl::InvalidArgumentError("layer widths must be positive");
  const featurestore::TransformOptions& t = transform;
  for (uint32_t b : {t.video_buckets, t.category_buckets, t.creator_buckets, t.tag_buckets, t.language_buckets,
                     t.country_buckets}) {
    if (b < 2) return absl::InvalidArgumentError("hash bucket counts must be at least 2");
  }
  return absl::OkStatus();
}

TwoTowerModel::TwoTowerModel(const TwoTowerConfig& config, std::unique_ptr<internal::TwoTowerNetHolder> net)
    : config_(config), net_(std::move(net)) {}

TwoTowerModel::~TwoTowerModel() = default;

absl::StatusOr<std::unique_ptr<TwoTowerModel>> TwoTowerModel::Create(const TwoTowerConfig& config, uint64_t seed) {
  if (absl::Status s = config.Validate(); !s.ok()) return s;
  try {
    torch::manual_seed(seed);
    auto holder = std::make_unique<internal::TwoTowerNetHolder>(internal::TwoTowerNet(config));
    return std::unique_ptr<TwoTowerModel>(new TwoTowerModel(config, std::move(holder)));
  } catch (const c10::Error& e) {
    return absl::InternalError(absl::StrCat("cannot create the two-tower model: ", e.what_without_backtrace()));
  }
}

absl::StatusOr<std::unique_ptr<TwoTowerModel>> TwoTowerModel::Load(const std::string& path,
                                                                   const TwoTowerConfig& config) {
  absl::StatusOr<std::unique_ptr<TwoTowerModel>> model = Create(config, 0);
  if (!model.ok()) return model.status();
  internal::TwoTowerNet& net = (*model)->net_->net;
  VREC_RETURN_IF_ERROR(LoadCheckedWeights(*net, path, "two-tower weights"));
  net->eval();
  return model;
}

absl::Status TwoTowerModel::Save(const std::string& path) const {
  try {
    torch::save(net_->net, path);
  } catch (const c10::Error& e) {
    return absl::InternalError(absl::StrCat("cannot save two-tower weights to ", path, ": ", e.what_without_backtrace()));
  }
  return absl::OkStatus();
}

absl::Status TwoTowerModel::EmbedUsers(absl::Span<const featurestore::UserInputs> users, float* out) const {
  if (users.empty()) return absl::OkStatus();
  try {
    torch::InferenceMode guard;
    const torch::Tensor e = net_->net->EmbedUsers(internal::ToUserBatch(users)).contiguous();
    std::memcpy(out, e.data_ptr<float>(), sizeof(float) * e.numel());
  } catch (const c10::Error& e) {
    return absl::InternalError(absl::StrCat("user tower failed: ", e.what_without_backtrace()));
  }
  return absl::OkStatus();
}

absl::Status TwoTowerModel::EmbedVideos(absl::Span<const featurestore::VideoInputs> videos, float* out) const {
  if (videos.empty()) return absl::OkStatus();
  try {
    torch::InferenceMode guard;
    const torch::Tensor e = net_->net->EmbedVideos(internal::ToVideoBatch(videos)).contiguous();
    std::memcpy(out, e.data_ptr<float>(), sizeof(float) * e.numel());
  } catch (const c10::Error& e) {
    return absl::InternalError(absl::StrCat("item tower failed: ", e.what_without_backtrace()));
  }
  return absl::OkStatus();
}

void SetModelThreads(int threads) { torch::set_num_threads(std::max(1, threads)); }

}  // namespace vrec::retrieval
