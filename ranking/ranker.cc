#include "ranking/ranker.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/status.h"
#include "common/torch_load.h"
#include "ranking/internal/ranker_net.h"

namespace vrec::ranking {
namespace internal {
namespace {

constexpr int kSmallDim = 8;

torch::nn::Embedding Table(int64_t rows, int64_t dim) {
  torch::nn::Embedding table(torch::nn::EmbeddingOptions(rows, dim).sparse(true).padding_idx(0));
  torch::NoGradGuard no_grad;
  table->weight.normal_(0.0, 0.05);
  table->weight[0].zero_();
  return table;
}

// Weighted mean over dim 1 of [B, N, D] with weights [B, N]; all-zero weights give zeros.
torch::Tensor WeightedMean(const torch::Tensor& embeddings, const torch::Tensor& weights) {
  return torch::einsum("bnd,bn->bd", {embeddings, weights}) / (weights.sum(1, true) + 1e-6);
}

int64_t VideoInputWidth(const RankerConfig& c) {
  return c.id_dim + 3 * c.category_dim + 2 * kSmallDim + kRankerVideoFloats + 3;
}

}  // namespace

void PackUser(const featurestore::UserInputs& u, int64_t* ints, float* floats) {
  const int64_t small[6] = {u.country, u.language, u.age_bucket, u.device, u.hour, u.weekday};
  std::memcpy(ints, small, sizeof(small));
  std::memcpy(ints + 6, u.history.data(), sizeof(u.history));
  std::memcpy(ints + 6 + featurestore::kUserHistory, u.top_categories.data(), sizeof(u.top_categories));
  std::memcpy(floats, u.history_weight.data(), sizeof(u.history_weight));
  std::memcpy(floats + featurestore::kUserHistory, u.top_category_weight.data(), sizeof(u.top_category_weight));
  std::memcpy(floats + featurestore::kUserHistory + featurestore::kUserTopCategories, u.dense.data(), sizeof(u.dense));
}

void PackVideo(const featurestore::VideoInputs& v, const CrossInputs& cross, int64_t* ints, float* floats) {
  const int64_t head[5] = {v.video, v.category, v.creator, v.language, v.duration_bucket};
  std::memcpy(ints, head, sizeof(head));
  std::memcpy(ints + 5, v.tags.data(), sizeof(v.tags));
  std::memcpy(floats, v.dense.data(), sizeof(v.dense));
  std::memcpy(floats + featurestore::kVideoDense, cross.dense.data(), sizeof(cross.dense));
}

RankerUsers PackUsers(absl::Span<const featurestore::UserInputs> users) {
  const int64_t n = static_cast<int64_t>(users.size());
  RankerUsers out{torch::empty({n, kRankerUserInts}, torch::kInt64), torch::empty({n, kRankerUserFloats})};
  int64_t* ints = out.ints.data_ptr<int64_t>();
  float* floats = out.floats.data_ptr<float>();
  for (int64_t i = 0; i < n; ++i) PackUser(users[i], ints + i * kRankerUserInts, floats + i * kRankerUserFloats);
  return out;
}

RankerVideos PackVideos(absl::Span<const featurestore::VideoInputs> videos, absl::Span<const CrossInputs> cross) {
  const int64_t n = static_cast<int64_t>(videos.size());
  RankerVideos out{torch::empty({n, kRankerVideoInts}, torch::kInt64), torch::empty({n, kRankerVideoFloats})};
  int64_t* ints = out.ints.data_ptr<int64_t>();
  float* floats = out.floats.data_ptr<float>();
  for (int64_t i = 0; i < n; ++i) {
    PackVideo(videos[i], cross[i], ints + i * kRankerVideoInts, floats + i * kRankerVideoFloats);
  }
  return out;
}

RankerNetImpl::RankerNetImpl(const RankerConfig& c) : config(c) {
  const featurestore::TransformOptions& t = c.transform;
  video_ids = register_module("video_ids", Table(t.video_buckets, c.id_dim));
  categories = register_module("categories", Table(t.category_buckets, c.category_dim));
  tags = register_module("tags", Table(t.tag_buckets, c.category_dim));
  creators = register_module("creators", Table(t.creator_buckets, c.category_dim));
  const int64_t offsets[6] = {0,
                              t.country_buckets,
                              t.country_buckets + t.language_buckets,
                              t.country_buckets + t.language_buckets + 7,
                              t.country_buckets + t.language_buckets + 7 + kNumDevices,
                              t.country_buckets + t.language_buckets + 7 + kNumDevices + 24};
  user_offsets = register_buffer("user_offsets", torch::tensor(std::vector<int64_t>(offsets, offsets + 6)).unsqueeze(0));
  user_small = register_module("user_small", Table(offsets[5] + 7, kSmallDim));
  item_small = register_module("item_small", Table(t.language_buckets + 9, kSmallDim));
  const int64_t user_in = 6 * kSmallDim + c.id_dim + c.category_dim + featurestore::kUserDense;
  const int64_t video_in = VideoInputWidth(c);
  user_norm = register_module("user_norm", torch::nn::LayerNorm(torch::nn::LayerNormOptions({user_in})));
  video_norm = register_module("video_norm", torch::nn::LayerNorm(torch::nn::LayerNormOptions({video_in})));
  user_proj = register_module("user_proj", torch::nn::Linear(user_in, c.hidden_dim));
  video_proj = register_module("video_proj",
                               torch::nn::Linear(torch::nn::LinearOptions(video_in, c.hidden_dim).bias(false)));
  hidden = register_module("hidden", torch::nn::Linear(c.hidden_dim, c.hidden2_dim));
  heads = register_module("heads", torch::nn::Linear(c.hidden2_dim, kNumRankerHeads));
  position_bias = register_module("position_bias", torch::nn::Embedding(kRankerPositions, kNumRankerHeads));
  torch::NoGradGuard no_grad;
  position_bias->weight.zero_();
}

torch::Tensor RankerNetImpl::PositionBias(const torch::Tensor& positions) {
  return position_bias(positions.clamp(0, kRankerPositions - 1));
}

UserPart RankerNetImpl::User(const RankerUsers& u) {
  const torch::Tensor small = user_small(u.ints.narrow(1, 0, 6) + user_offsets).flatten(1);
  UserPart part;
  part.history = WeightedMean(video_ids(u.ints.narrow(1, 6, featurestore::kUserHistory)),
                              u.floats.narrow(1, 0, featurestore::kUserHistory));
  part.categories =
      WeightedMean(categories(u.ints.narrow(1, 6 + featurestore::kUserHistory, featurestore::kUserTopCategories)),
                   u.floats.narrow(1, featurestore::kUserHistory, featurestore::kUserTopCategories));
  const torch::Tensor dense =
      u.floats.narrow(1, featurestore::kUserHistory + featurestore::kUserTopCategories, featurestore::kUserDense);
  part.projected = user_proj(user_norm(torch::cat({small, part.history, part.categories, dense}, 1)));
  return part;
}

torch::Tensor RankerNetImpl::Logits(const UserPart& user, const RankerVideos& v) {
  const torch::Tensor id = video_ids(v.ints.select(1, 0));
  const torch::Tensor category = categories(v.ints.select(1, 1));
  const torch::Tensor creator = creators(v.ints.select(1, 2));
  const torch::Tensor language = item_small(v.ints.select(1, 3));
  const torch::Tensor duration = item_small(v.ints.select(1, 4) + static_cast<int64_t>(config.transform.language_buckets));
  const torch::Tensor tag_ids = v.ints.narrow(1, 5, featurestore::kVideoTags);
  const torch::Tensor tag = WeightedMean(tags(tag_ids), (tag_ids > 0).to(torch::kFloat32));
  const torch::Tensor interactions = torch::stack({(id * user.history).sum(1), (category * user.categories).sum(1),
                                                   (tag * user.categories).sum(1)},
                                                  1);
  const torch::Tensor x =
      video_norm(torch::cat({id, category, creator, tag, language, duration, v.floats, interactions}, 1));
  const torch::Tensor h1 = torch::relu(video_proj(x) + user.projected);
  return heads(torch::relu(hidden(h1)));
}

std::vector<torch::Tensor> RankerNetImpl::SparseParameters() {
  return {video_ids->weight, categories->weight, tags->weight, creators->weight, user_small->weight,
          item_small->weight};
}

std::vector<torch::Tensor> RankerNetImpl::DenseParameters() {
  std::vector<torch::Tensor> out;
  for (torch::nn::Module* m : std::initializer_list<torch::nn::Module*>{
           user_norm.get(), video_norm.get(), user_proj.get(), video_proj.get(), hidden.get(), heads.get(),
           position_bias.get()}) {
    for (const torch::Tensor& p : m->parameters()) out.push_back(p);
  }
  return out;
}

}  // namespace internal

const char* RankerHeadName(int head) {
  switch (head) {
    case kHeadClick:
      return "click";
    case kHeadWatch:
      return "watch50";
    case kHeadLike:
      return "like";
    case kHeadExposure:
      return "exposure";
  }
  return "unknown";
}

absl::Status RankerConfig::Validate() const {
  if (id_dim < 1 || category_dim < 1 || hidden_dim < 1 || hidden2_dim < 1) {
    return absl::InvalidArgumentError("ranker layer widths must be positive");
  }
  const featurestore::TransformOptions& t = transform;
  for (uint32_t b : {t.video_buckets, t.category_buckets, t.creator_buckets, t.tag_buckets, t.language_buckets,
                     t.country_buckets}) {
    if (b < 2) return absl::InvalidArgumentError("ranker hash bucket counts must be at least 2");
  }
  for (float w : head_weights) {
    if (!(w >= 0.0f) || !std::isfinite(w)) return absl::InvalidArgumentError("ranker head weights must be >= 0");
  }
  return absl::OkStatus();
}

RankerModel::RankerModel(const RankerConfig& config, std::unique_ptr<internal::RankerNetHolder> net)
    : config_(config), net_(std::move(net)) {}

RankerModel::~RankerModel() = default;

absl::StatusOr<std::unique_ptr<RankerModel>> RankerModel::Create(const RankerConfig& config, uint64_t seed) {
  VREC_RETURN_IF_ERROR(config.Validate());
  try {
    torch::manual_seed(seed);
    auto holder = std::make_unique<internal::RankerNetHolder>(internal::RankerNet(config));
    return std::unique_ptr<RankerModel>(new RankerModel(config, std::move(holder)));
  } catch (const c10::Error& e) {
    return absl::InternalError(absl::StrCat("cannot create the ranker: ", e.what_without_backtrace()));
  }
}

absl::StatusOr<std::unique_ptr<RankerModel>> RankerModel::Load(const std::string& path, const RankerConfig& config) {
  VREC_ASSIGN_OR_RETURN(std::unique_ptr<RankerModel> model, Create(config, 0));
  internal::RankerNet& net = model->net_->net;
  VREC_RETURN_IF_ERROR(LoadCheckedWeights(*net, path, "ranker weights"));
  net->eval();
  return model;
}

absl::Status RankerModel::Save(const std::string& path) const {
  try {
    torch::save(net_->net, path);
  } catch (const c10::Error& e) {
    return absl::InternalError(absl::StrCat("cannot save ranker weights to ", path, ": ", e.what_without_backtrace()));
  }
  return absl::OkStatus();
}

absl::Status RankerModel::Score(const featurestore::UserInputs& user,
                                absl::Span<const featurestore::VideoInputs> videos, absl::Span<const CrossInputs> cross,
                                float* heads) const {
  if (videos.size() != cross.size()) return absl::InvalidArgumentError("videos and cross features differ in length");
  if (videos.empty()) return absl::OkStatus();
  try {
    torch::InferenceMode guard;
    internal::RankerNet& net = net_->net;
    const internal::UserPart u = net->User(internal::PackUsers(absl::MakeConstSpan(&user, 1)));
    const torch::Tensor p = torch::sigmoid(net->Logits(u, internal::PackVideos(videos, cross))).contiguous();
    std::memcpy(heads, p.data_ptr<float>(), sizeof(float) * videos.size() * kNumRankerHeads);
  } catch (const c10::Error& e) {
    return absl::InternalError(absl::StrCat("ranker forward failed: ", e.what_without_backtrace()));
  }
  return absl::OkStatus();
}

absl::Status RankerModel::ScoreExamples(absl::Span<const featurestore::UserInputs> users,
                                        absl::Span<const featurestore::VideoInputs> videos,
                                        absl::Span<const CrossInputs> cross, float* heads) const {
  if (videos.size() != cross.size() || videos.size() != users.size()) {
    return absl::InvalidArgumentError("users, videos and cross features differ in length");
  }
  if (videos.empty()) return absl::OkStatus();
  try {
    torch::InferenceMode guard;
    internal::RankerNet& net = net_->net;
    const internal::UserPart u = net->User(internal::PackUsers(users));
    const torch::Tensor p = torch::sigmoid(net->Logits(u, internal::PackVideos(videos, cross))).contiguous();
    std::memcpy(heads, p.data_ptr<float>(), sizeof(float) * videos.size() * kNumRankerHeads);
  } catch (const c10::Error& e) {
    return absl::InternalError(absl::StrCat("ranker forward failed: ", e.what_without_backtrace()));
  }
  return absl::OkStatus();
}

float RankerModel::Combine(const float* heads) const {
  float s = 0.0f;
  for (int h = 0; h < kEngagementHeads; ++h) s += config_.head_weights[h] * heads[h];
  // The exposure head separates shown videos from uniformly sampled ones, so its odds estimate
  // the ratio of the policy's exposure probability to the uniform one (the density-ratio
  // view of a classifier): proportional to how often the video would be shown.
  const float w = config_.head_weights[kHeadExposure];
  if (w == 0.0f) return s;
  const float p = std::clamp(heads[kHeadExposure], 1e-6f, 1.0f - 1e-6f);
  return s * std::pow(p / (1.0f - p), w);
}

double RankerModel::FlopsPerCandidate() const {
  const double in = static_cast<double>(internal::VideoInputWidth(config_));
  return 2.0 * (in * config_.hidden_dim + static_cast<double>(config_.hidden_dim) * config_.hidden2_dim +
                static_cast<double>(config_.hidden2_dim) * kNumRankerHeads);
}

}  // namespace vrec::ranking
