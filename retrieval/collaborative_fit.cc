#include "retrieval/collaborative_fit.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <utility>

#include <torch/torch.h>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "common/progress.h"
#include "common/status.h"

namespace vrec::retrieval {
namespace {

constexpr int kTransitionWindow = 3;  // the next videos a transition counts, weighted 1, 1/2, 1/3
constexpr float kTransitionShrink = 2;  // weight / (followers + this): rare videos' shares shrink
constexpr int64_t kBlockRows = 1024;

absl::Status Check(const CollabFitOptions& o) {
  if (o.ease_cap < 1 || o.ease_cap > 50000 || !(o.ease_lambda > 0) || o.neighbours < 1 ||
      o.transition_neighbours < 1 || o.max_items_per_user < 2 || o.threads < 1 || o.ease_dense_max < 0 ||
      o.ease_dense_max > 20000) {
    return absl::InvalidArgumentError(
        "collaborative fit: want ease_cap in [1, 50000], ease_lambda > 0, neighbours >= 1, "
        "max_items_per_user >= 2, threads >= 1, ease_dense_max in [0, 20000]");
  }
  return absl::OkStatus();
}

// Each user's distinct videos in order of first engagement.
struct Sequences {
  std::vector<VideoId> videos;
  std::vector<size_t> starts{0};  // user i: [starts[i], starts[i+1])
  size_t users() const { return starts.size() - 1; }
};

Sequences BuildSequences(absl::Span<const Engagement> by_user) {
  Sequences s;
  absl::flat_hash_set<VideoId> seen;
  ForEachUserRun(by_user, [&](UserId, auto begin, auto end) {
    seen.clear();
    for (auto it = begin; it != end; ++it) {
      if (seen.insert(it->video).second) s.videos.push_back(it->video);
    }
    s.starts.push_back(s.videos.size());
  });
  return s;
}

// The `cap` most engaged videos (users who engaged), most engaged first, ties by lower id.
struct CapSet {
  std::vector<VideoId> videos;
  absl::flat_hash_map<VideoId, int> column;
  int64_t catalog = 0;
};

CapSet ChooseCap(const Sequences& s, int cap) {
  absl::flat_hash_map<VideoId, int64_t> counts;
  for (VideoId v : s.videos) ++counts[v];
  std::vector<std::pair<int64_t, VideoId>> order;
  order.reserve(counts.size());
  for (const auto& [v, c] : counts) order.push_back({-c, v});
  std::sort(order.begin(), order.end());
  CapSet set;
  set.catalog = static_cast<int64_t>(order.size());
  for (size_t i = 0; i < order.size() && i < static_cast<size_t>(cap); ++i) {
    set.column.emplace(order[i].second, static_cast<int>(i));
    set.videos.push_back(order[i].second);
  }
  return set;
}

// G = X^T X over the cap set (X: users x videos, binary), from each user's most recent
// max_items distinct capped videos.
torch::Tensor Gram(const Sequences& s, const CapSet& cap, int max_items) {
  const int64_t n = static_cast<int64_t>(cap.videos.size());
  torch::Tensor g = torch::zeros({n, n}, torch::kFloat32);
  float* data = g.data_ptr<float>();
  std::vector<int> cols;
  for (size_t u = 0; u < s.users(); ++u) {
    cols.clear();
    for (size_t i = s.starts[u + 1]; i-- > s.starts[u] && cols.size() < static_cast<size_t>(max_items);) {
      auto it = cap.column.find(s.videos[i]);
      if (it != cap.column.end()) cols.push_back(it->second);
    }
    for (int a : cols) {
      float* row = data + static_cast<int64_t>(a) * n;
      for (int b : cols) row[b] += 1.0f;
    }
  }
  return g;
}

// Adds each row of `block` (rows [r0, r0 + block.size(0)) of an n x n weight matrix over
// cap.videos, diagonal already excluded) to `table`: its best k positive entries.
void AddTopRows(const torch::Tensor& block, int64_t r0, const CapSet& cap, int k, NeighbourTable* table) {
  const auto [values, indices] = block.topk(std::min<int64_t>(k, block.size(1)), 1);
  const torch::Tensor v = values.contiguous(), ix = indices.contiguous();
  const float* vp = v.data_ptr<float>();
  const int64_t* ip = ix.data_ptr<int64_t>();
  const int64_t kk = v.size(1);
  std::vector<ScoredVideo> row;
  for (int64_t r = 0; r < v.size(0); ++r) {
    row.clear();
    for (int64_t j = 0; j < kk && vp[r * kk + j] > 0; ++j) row.push_back({cap.videos[ip[r * kk + j]], vp[r * kk + j]});
    if (!row.empty()) table->AddRow(cap.videos[r0 + r], row);
  }
}

void ZeroDiagonal(torch::Tensor block, int64_t r0) {
  const int64_t rows = block.size(0);
  float* p = block.data_ptr<float>();
  for (int64_t r = 0; r < rows; ++r) p[r * block.size(1) + r0 + r] = 0.0f;
}

// EASE: P = (G + lambda I)^-1, B = -P / diag(P) by column, diag(B) = 0. Consumes g.
torch::Tensor EaseInverse(torch::Tensor g, double lambda) {
  g.diagonal().add_(lambda);
  torch::Tensor l = torch::linalg_cholesky(g);
  g = torch::Tensor();
  return torch::cholesky_inverse(l);
}

torch::Tensor EaseBlock(const torch::Tensor& p, const torch::Tensor& p_diag, int64_t r0, int64_t r1) {
  torch::Tensor b = -p.slice(0, r0, r1) / p_diag.unsqueeze(0);
  b = b.contiguous();
  ZeroDiagonal(b, r0);
  return b;
}

// Every EASE weight over the cap, from P = (G + lambda I)^-1 (block by block, as above).
DenseEase DenseWeights(const torch::Tensor& p, const torch::Tensor& p_diag, const CapSet& cap) {
  const int64_t n = static_cast<int64_t>(cap.videos.size());
  DenseEase ease;
  ease.weights.resize(static_cast<size_t>(n) * n);
  for (int64_t r0 = 0; r0 < n; r0 += kBlockRows) {
    const torch::Tensor b = EaseBlock(p, p_diag, r0, std::min(n, r0 + kBlockRows));
    std::copy(b.data_ptr<float>(), b.data_ptr<float>() + b.numel(), ease.weights.begin() + r0 * n);
  }
  ease.videos = cap.videos;
  ease.column = cap.column;
  return ease;
}

// item_knn: each row's best k cosines of the videos' user sets, from their Gram matrix.
void CosineRows(const torch::Tensor& g, const CapSet& cap, int k, NeighbourTable* table) {
  const int64_t n = g.size(0);
  const torch::Tensor norms = g.diagonal().sqrt().clamp_min(1e-6f);
  for (int64_t r0 = 0; r0 < n; r0 += kBlockRows) {
    const int64_t r1 = std::min(n, r0 + kBlockRows);
    torch::Tensor sim = (g.slice(0, r0, r1) / norms.slice(0, r0, r1).unsqueeze(1) / norms.unsqueeze(0)).contiguous();
    ZeroDiagonal(sim, r0);
    AddTopRows(sim, r0, cap, k, table);
  }
}

void FitTransitions(const Sequences& s, int k, NeighbourTable* table) {
  absl::flat_hash_map<uint64_t, float> pairs;
  absl::flat_hash_map<VideoId, float> followers;
  for (size_t u = 0; u < s.users(); ++u) {
    for (size_t i = s.starts[u]; i < s.starts[u + 1]; ++i) {
      for (int d = 1; d <= kTransitionWindow && i + d < s.starts[u + 1]; ++d) {
        const float w = 1.0f / d;
        pairs[(uint64_t{s.videos[i]} << 32) | s.videos[i + d]] += w;
        followers[s.videos[i]] += w;
      }
    }
  }
  std::vector<std::pair<uint64_t, float>> sorted(pairs.begin(), pairs.end());
  pairs = {};
  std::sort(sorted.begin(), sorted.end());
  std::vector<ScoredVideo> row;
  for (size_t i = 0; i < sorted.size();) {
    const VideoId from = static_cast<VideoId>(sorted[i].first >> 32);
    const float total = followers[from] + kTransitionShrink;
    row.clear();
    for (; i < sorted.size() && static_cast<VideoId>(sorted[i].first >> 32) == from; ++i) {
      row.push_back({static_cast<VideoId>(sorted[i].first), sorted[i].second / total});
    }
    std::sort(row.begin(), row.end(), [](const ScoredVideo& a, const ScoredVideo& b) {
      return a.score != b.score ? a.score > b.score : a.video < b.video;
    });
    if (row.size() > static_cast<size_t>(k)) row.resize(k);
    table->AddRow(from, row);
  }
}

}  // namespace

absl::StatusOr<CollaborativeModel> FitCollaborative(absl::Span<const Engagement> by_user, const CollabFitOptions& o,
                                                    CollaborativeInfo* info) {
  VREC_RETURN_IF_ERROR(Check(o));
  const auto start = std::chrono::steady_clock::now();
  torch::set_num_threads(o.threads);
  torch::InferenceMode guard;
  CollaborativeModel model;
  const Sequences s = BuildSequences(by_user);
  const CapSet cap = ChooseCap(s, o.ease_cap);
  const int64_t n = static_cast<int64_t>(cap.videos.size());
  if (o.show_progress) {
    std::fprintf(stderr, "collaborative: %zu users, %zu distinct engagements, %lld videos (%lld in the EASE cap)\n",
                 s.users(), s.videos.size(), static_cast<long long>(cap.catalog), static_cast<long long>(n));
  }
  if (n > 0) {
    torch::Tensor g = Gram(s, cap, o.max_items_per_user);
    CosineRows(g, cap, o.neighbours, &model.tables[kCollabItemKnn]);
    if (o.show_progress) std::fprintf(stderr, "collaborative: item_knn done; inverting the %lld^2 EASE system\n", static_cast<long long>(n));
    const torch::Tensor p = EaseInverse(std::move(g), o.ease_lambda);
    const torch::Tensor p_diag = p.diagonal().clone();
    for (int64_t r0 = 0; r0 < n; r0 += kBlockRows) {
      AddTopRows(EaseBlock(p, p_diag, r0, std::min(n, r0 + kBlockRows)), r0, cap, o.neighbours,
                 &model.tables[kCollabEase]);
    }
    if (n <= o.ease_dense_max) model.ease_dense = DenseWeights(p, p_diag, cap);
  }
  FitTransitions(s, o.transition_neighbours, &model.tables[kCollabTransitions]);
  for (NeighbourTable& t : model.tables) t.Finish();
  if (info != nullptr) {
    info->users = static_cast<int64_t>(s.users());
    info->engagements = static_cast<int64_t>(s.videos.size());
    info->catalog_videos = cap.catalog;
    info->ease_videos = n;
    info->ease_cap = o.ease_cap;
    info->ease_lambda = o.ease_lambda;
    info->neighbours = o.neighbours;
    info->transition_neighbours = o.transition_neighbours;
    info->ease_dense_max = o.ease_dense_max;
    info->fit_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  }
  return model;
}

namespace {

// The Gram matrix of the options' cap set (filled into *cap); undefined when nothing is engaged.
// The caller holds an InferenceMode guard.
absl::StatusOr<torch::Tensor> CappedGram(absl::Span<const Engagement> by_user, const CollabFitOptions& o, CapSet* cap) {
  VREC_RETURN_IF_ERROR(Check(o));
  torch::set_num_threads(o.threads);
  const Sequences s = BuildSequences(by_user);
  *cap = ChooseCap(s, o.ease_cap);
  if (cap->videos.empty()) return torch::Tensor();
  return Gram(s, *cap, o.max_items_per_user);
}

}  // namespace

absl::StatusOr<DenseEase> FitDenseEase(absl::Span<const Engagement> by_user, const CollabFitOptions& o) {
  torch::InferenceMode guard;
  CapSet cap;
  VREC_ASSIGN_OR_RETURN(torch::Tensor g, CappedGram(by_user, o, &cap));
  if (cap.videos.empty()) return DenseEase();
  const torch::Tensor p = EaseInverse(std::move(g), o.ease_lambda);
  return DenseWeights(p, p.diagonal().clone(), cap);
}

absl::StatusOr<NeighbourTable> FitItemKnn(absl::Span<const Engagement> by_user, const CollabFitOptions& o) {
  torch::InferenceMode guard;
  CapSet cap;
  VREC_ASSIGN_OR_RETURN(const torch::Tensor g, CappedGram(by_user, o, &cap));
  NeighbourTable table;
  if (!cap.videos.empty()) CosineRows(g, cap, o.neighbours, &table);
  table.Finish();
  return table;
}

}  // namespace vrec::retrieval
