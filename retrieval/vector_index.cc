#include "retrieval/vector_index.h"

#include <algorithm>

namespace vrec::retrieval {

void KeepBest(size_t start, size_t n, std::vector<ScoredVideo>* list) {
  auto better = [](const ScoredVideo& a, const ScoredVideo& b) {
    return a.score != b.score ? a.score > b.score : a.video < b.video;
  };
  if (list->size() - start > n) {
    std::nth_element(list->begin() + start, list->begin() + start + n, list->end(), better);
    list->resize(start + n);
  }
  std::sort(list->begin() + start, list->end(), better);
}

void VectorIndex::SearchBatch(absl::Span<const float> queries, int k, std::vector<std::vector<ScoredVideo>>* out,
                              int ef) const {
  const size_t d = static_cast<size_t>(dim());
  const size_t n = d == 0 ? 0 : queries.size() / d;
  out->resize(n);
  for (size_t i = 0; i < n; ++i) Search(queries.data() + i * d, k, &(*out)[i], ef);
}

}  // namespace vrec::retrieval
