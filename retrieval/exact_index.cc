#include "retrieval/exact_index.h"

#include <algorithm>
#include <functional>
#include <numeric>
#include <utility>

#include "absl/strings/str_cat.h"

namespace vrec::retrieval {
namespace {

// Rows scored per block of a batched search: 2,048 rows of 64 floats is 512 KB, which stays
// in L2 while every query of the batch reads it.
constexpr size_t kBlockRows = 2048;

using Entry = std::pair<float, uint32_t>;  // score, row

// The heap's order: the worst entry on top (lower score, then higher row).
bool Worse(const Entry& a, const Entry& b) { return a.first != b.first ? a.first > b.first : a.second < b.second; }

// Offers one scored row to a top-`top` min-heap.
inline void Offer(float score, uint32_t row, size_t top, std::vector<Entry>* heap) {
  if (heap->size() == top) {
    const Entry& worst = heap->front();
    if (score < worst.first || (score == worst.first && row > worst.second)) return;
  }
  heap->emplace_back(score, row);
  std::push_heap(heap->begin(), heap->end(), Worse);
  if (heap->size() > top) {
    std::pop_heap(heap->begin(), heap->end(), Worse);
    heap->pop_back();
  }
}

}  // namespace

absl::StatusOr<std::unique_ptr<ExactIndex>> ExactIndex::Create(std::vector<VideoId> ids, std::vector<float> embeddings,
                                                               int dim) {
  if (dim <= 0 || embeddings.size() != ids.size() * static_cast<size_t>(dim)) {
    return absl::InvalidArgumentError(absl::StrCat("exact index: ", ids.size(), " ids and ", embeddings.size(),
                                                   " floats do not make rows of dimension ", dim));
  }
  auto index = std::unique_ptr<ExactIndex>(new ExactIndex());
  index->dim_ = dim;
  // Rows already in ascending id order (the catalog embedders write them so) are taken as they are.
  if (std::adjacent_find(ids.begin(), ids.end(), std::greater_equal<VideoId>()) == ids.end()) {
    index->ids_ = std::move(ids);
    index->embeddings_ = std::move(embeddings);
    return index;
  }
  std::vector<uint32_t> order(ids.size());
  std::iota(order.begin(), order.end(), 0u);
  std::sort(order.begin(), order.end(), [&](uint32_t a, uint32_t b) { return ids[a] < ids[b]; });
  index->ids_.reserve(ids.size());
  index->embeddings_.resize(embeddings.size());
  for (size_t r = 0; r < order.size(); ++r) {
    if (r > 0 && ids[order[r]] == ids[order[r - 1]]) {
      return absl::InvalidArgumentError(absl::StrCat("exact index: duplicate video id ", ids[order[r]]));
    }
    index->ids_.push_back(ids[order[r]]);
    std::copy(embeddings.begin() + size_t{order[r]} * dim, embeddings.begin() + size_t{order[r] + 1} * dim,
              index->embeddings_.begin() + r * dim);
  }
  return index;
}

void ExactIndex::Search(const float* query, int k, std::vector<ScoredVideo>* out, int ef) const {
  thread_local std::vector<std::vector<ScoredVideo>> one;
  SearchBatch(absl::MakeConstSpan(query, dim_), k, &one, ef);
  out->swap(one[0]);
}

void ExactIndex::SearchBatch(absl::Span<const float> queries, int k, std::vector<std::vector<ScoredVideo>>* out,
                             int ef) const {
  const size_t d = static_cast<size_t>(dim_);
  const size_t n = queries.size() / d;
  const size_t top = std::min<size_t>(std::max(k, 0), ids_.size());
  thread_local std::vector<std::vector<Entry>> heaps;
  heaps.resize(n);
  for (std::vector<Entry>& h : heaps) {
    h.clear();
    h.reserve(top + 1);
  }
  if (top > 0) {
    for (size_t begin = 0; begin < ids_.size(); begin += kBlockRows) {
      const size_t end = std::min(ids_.size(), begin + kBlockRows);
      for (size_t q = 0; q < n; ++q) {
        const float* query = queries.data() + q * d;
        std::vector<Entry>& heap = heaps[q];
        for (size_t r = begin; r < end; ++r) {
          Offer(InnerProduct(query, &embeddings_[r * d], dim_), static_cast<uint32_t>(r), top, &heap);
        }
      }
    }
  }
  out->resize(n);
  for (size_t q = 0; q < n; ++q) {
    std::sort_heap(heaps[q].begin(), heaps[q].end(), Worse);
    (*out)[q].clear();
    for (const auto& [score, r] : heaps[q]) (*out)[q].push_back({ids_[r], score});
  }
}

const float* ExactIndex::Embedding(VideoId video) const {
  const auto it = std::lower_bound(ids_.begin(), ids_.end(), video);
  if (it == ids_.end() || *it != video) return nullptr;
  return &embeddings_[static_cast<size_t>(it - ids_.begin()) * dim_];
}

}  // namespace vrec::retrieval
