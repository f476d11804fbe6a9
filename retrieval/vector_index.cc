#include "retrieval/vector_index.h"

namespace vrec::retrieval {

void VectorIndex::SearchBatch(absl::Span<const float> queries, int k, std::vector<std::vector<ScoredVideo>>* out,
                              int ef) const {
  const size_t d = static_cast<size_t>(dim());
  const size_t n = d == 0 ? 0 : queries.size() / d;
  out->resize(n);
  for (size_t i = 0; i < n; ++i) Search(queries.data() + i * d, k, &(*out)[i], ef);
}

}  // namespace vrec::retrieval
