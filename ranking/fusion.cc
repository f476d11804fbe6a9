#include "ranking/fusion.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <numeric>

#include <torch/torch.h>

#include "absl/strings/str_cat.h"
#include "common/status.h"
#include "common/torch_load.h"

namespace vrec::ranking {

struct FusionNetHolder {
  torch::nn::Sequential net;
  std::unique_ptr<torch::optim::Adam> optimizer;
};

namespace {

float RankInput(uint32_t rank) { return rank == 0 ? 0.0f : 1.0f / std::log2(1.0f + rank); }

torch::nn::Sequential MakeNet(int hidden) {
  return torch::nn::Sequential(torch::nn::Linear(kFusionFeatures, hidden), torch::nn::ReLU(),
                               torch::nn::Linear(hidden, 1));
}

}  // namespace

void FusionInputs(absl::Span<const retrieval::Candidate> candidates, absl::Span<const float> ranker_scores,
                  std::vector<float>* out) {
  const size_t n = candidates.size();
  out->assign(n * kFusionFeatures, 0.0f);
  std::array<float, retrieval::kNumSources> best{};
  for (const retrieval::Candidate& c : candidates) {
    for (int s = 0; s < retrieval::kNumSources; ++s) {
      if (c.from(static_cast<retrieval::SourceId>(s))) best[s] = std::max(best[s], std::abs(c.source_score[s]));
    }
  }
  const bool ranked = ranker_scores.size() == n && n > 0;
  float ranker_best = 0;
  thread_local std::vector<uint32_t> order, ranker_rank;
  if (ranked) {
    ranker_best = *std::max_element(ranker_scores.begin(), ranker_scores.end());
    order.resize(n);
    std::iota(order.begin(), order.end(), 0u);
    std::sort(order.begin(), order.end(), [&](uint32_t a, uint32_t b) {
      return ranker_scores[a] != ranker_scores[b] ? ranker_scores[a] > ranker_scores[b] : a < b;
    });
    ranker_rank.resize(n);
    for (size_t r = 0; r < n; ++r) ranker_rank[order[r]] = static_cast<uint32_t>(r + 1);
  }
  for (size_t i = 0; i < n; ++i) {
    const retrieval::Candidate& c = candidates[i];
    float* row = out->data() + i * kFusionFeatures;
    for (int s = 0; s < retrieval::kNumSources; ++s) {
      if (!c.from(static_cast<retrieval::SourceId>(s))) continue;
      row[s * kFusionSourceFeatures] = 1.0f;
      row[s * kFusionSourceFeatures + 1] = RankInput(c.source_rank[s]);
      row[s * kFusionSourceFeatures + 2] = best[s] > 0 ? c.source_score[s] / best[s] : 0.0f;
    }
    float* tail = row + kFusionSourceFeatures * retrieval::kNumSources;
    if (ranked) {
      tail[0] = 1.0f;
      tail[1] = ranker_best > 0 ? ranker_scores[i] / ranker_best : 0.0f;
      tail[2] = RankInput(ranker_rank[i]);
    }
    tail[3] = c.embedded ? c.score : 0.0f;
  }
}

FusionModel::FusionModel(int hidden, std::unique_ptr<FusionNetHolder> net) : hidden_(hidden), net_(std::move(net)) {}
FusionModel::~FusionModel() = default;

absl::StatusOr<std::unique_ptr<FusionModel>> FusionModel::Create(int hidden, uint64_t seed) {
  if (hidden < 1 || hidden > 1024) return absl::InvalidArgumentError("fusion hidden size must be in [1, 1024]");
  torch::manual_seed(seed);
  auto holder = std::make_unique<FusionNetHolder>();
  holder->net = MakeNet(hidden);
  return std::unique_ptr<FusionModel>(new FusionModel(hidden, std::move(holder)));
}

absl::StatusOr<std::unique_ptr<FusionModel>> FusionModel::Load(const std::string& path, int hidden) {
  auto model = Create(hidden, 0);
  if (!model.ok()) return model.status();
  VREC_RETURN_IF_ERROR(LoadCheckedWeights(*(*model)->net_->net, path, "fusion weights"));
  (*model)->net_->net->eval();
  return model;
}

absl::Status FusionModel::Save(const std::string& path) const {
  try {
    torch::save(net_->net, path);
  } catch (const c10::Error& e) {
    return absl::InternalError(absl::StrCat("cannot save fusion weights to ", path, ": ", e.what_without_backtrace()));
  }
  return absl::OkStatus();
}

absl::Status FusionModel::Score(absl::Span<const float> inputs, float* scores) const {
  const int64_t n = static_cast<int64_t>(inputs.size() / kFusionFeatures);
  if (inputs.size() % kFusionFeatures != 0) return absl::InvalidArgumentError("fusion inputs are not whole rows");
  if (n == 0) return absl::OkStatus();
  try {
    torch::InferenceMode guard;
    const torch::Tensor x = torch::from_blob(const_cast<float*>(inputs.data()), {n, kFusionFeatures});
    const torch::Tensor logits = net_->net->forward(x).squeeze(1);
    const torch::Tensor p = torch::exp(logits - logits.max()).contiguous();
    std::memcpy(scores, p.data_ptr<float>(), sizeof(float) * n);
    if (lead_ >= 0) {
      // The lead source's candidates in (1, 2] by their rank input (1 / log2(1 + rank)), above
      // every other candidate's fused score in (0, 1]; then all scaled back into (0, 1].
      const int64_t rank_column = static_cast<int64_t>(lead_) * kFusionSourceFeatures + 1;
      for (int64_t i = 0; i < n; ++i) {
        const float rank_input = inputs[i * kFusionFeatures + rank_column];
        if (rank_input > 0) scores[i] = 1.0f + rank_input;
      }
      const float best = *std::max_element(scores, scores + n);
      for (int64_t i = 0; i < n; ++i) scores[i] /= best;
    }
  } catch (const c10::Error& e) {
    return absl::InternalError(absl::StrCat("fusion forward failed: ", e.what_without_backtrace()));
  }
  return absl::OkStatus();
}

absl::StatusOr<double> FusionModel::TrainEpoch(absl::Span<const float> inputs, absl::Span<const Query> queries,
                                               int batch, double learning_rate) {
  try {
    torch::nn::Sequential& net = net_->net;
    net->train();
    if (net_->optimizer == nullptr) {
      net_->optimizer = std::make_unique<torch::optim::Adam>(net->parameters(), torch::optim::AdamOptions(learning_rate));
    }
    double loss_sum = 0;
    size_t batches = 0;
    for (size_t q0 = 0; q0 < queries.size(); q0 += batch) {
      const size_t q1 = std::min(queries.size(), q0 + batch);
      // Every query's rows, one forward; the loss is each query's log-softmax at its target.
      std::vector<float> rows;
      size_t total = 0;
      for (size_t q = q0; q < q1; ++q) {
        const Query& query = queries[q];
        rows.insert(rows.end(), inputs.begin() + query.first * kFusionFeatures,
                    inputs.begin() + (query.first + query.rows) * kFusionFeatures);
        total += query.rows;
      }
      const int64_t n = static_cast<int64_t>(total);
      const torch::Tensor x = torch::from_blob(rows.data(), {n, kFusionFeatures});
      const torch::Tensor logits = net->forward(x).squeeze(1);
      std::vector<torch::Tensor> losses;
      int64_t start = 0;
      for (size_t q = q0; q < q1; ++q) {
        const Query& query = queries[q];
        const int64_t rows_q = static_cast<int64_t>(query.rows);
        const torch::Tensor l = logits.slice(0, start, start + rows_q);
        start += rows_q;
        if (query.targets.size() == 1) {
          losses.push_back((torch::logsumexp(l, 0) - l[static_cast<int64_t>(query.targets[0])]).unsqueeze(0));
          continue;
        }
        // Each target against the non-engaged rows: log(exp(l_t) + sum over negatives) - l_t.
        std::vector<int64_t> targets(query.targets.begin(), query.targets.end());
        const torch::Tensor index = torch::tensor(targets, torch::kLong);
        const torch::Tensor negatives = torch::logsumexp(l.index_fill(0, index, -1e9), 0);
        const torch::Tensor target_logits = l.index_select(0, index);
        losses.push_back(torch::logaddexp(target_logits, negatives) - target_logits);
      }
      const torch::Tensor loss = torch::cat(losses).mean();
      net_->optimizer->zero_grad();
      loss.backward();
      net_->optimizer->step();
      loss_sum += loss.item<double>();
      ++batches;
    }
    net->eval();
    return batches > 0 ? loss_sum / batches : 0.0;
  } catch (const c10::Error& e) {
    return absl::InternalError(absl::StrCat("fusion training failed: ", e.what_without_backtrace()));
  }
}

}  // namespace vrec::ranking
