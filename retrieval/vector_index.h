// VectorIndex: inner-product search over the item embeddings of one model version, as the
// candidate sources see it. Two implementations:
//
//   HnswIndex   approximate (hnswlib graph), what the server searches by default
//               (retrieval/hnsw_index.h)
//   ExactIndex  brute force, batched over queries (retrieval/exact_index.h): the replay
//               evaluator (whose point-in-time embeddings have no graph), `vrec serve
//               --exact-search`, and the parity test between the two
//
// Scores are InnerProduct below in both, so an exact search gives bit-identical results
// whoever calls it, one query at a time or in a batch.
#ifndef VREC_RETRIEVAL_VECTOR_INDEX_H_
#define VREC_RETRIEVAL_VECTOR_INDEX_H_

#include <cstddef>
#include <vector>

#include "absl/types/span.h"
#include "common/types.h"

namespace vrec::retrieval {

// A search result: video and inner product with the query.
struct ScoredVideo {
  VideoId video = 0;
  float score = 0;
};

// Orders (*list)[start, end) best first (score, then lower id: the order every source returns)
// and keeps the first n of them.
void KeepBest(size_t start, size_t n, std::vector<ScoredVideo>* list);

// Eight independent partial sums, so the compiler can keep them in one vector register. The
// one inner product of retrieval: exact search, retrieval scores and the fresh source use it,
// so a score does not depend on which of them computed it.
inline float InnerProduct(const float* a, const float* b, int dim) {
  float lanes[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  int i = 0;
  for (; i + 8 <= dim; i += 8) {
    for (int j = 0; j < 8; ++j) lanes[j] += a[i + j] * b[i + j];
  }
  float s = 0.0f;
  for (; i < dim; ++i) s += a[i] * b[i];
  for (float l : lanes) s += l;
  return s;
}

// Immutable once built; every method is thread-safe.
class VectorIndex {
 public:
  virtual ~VectorIndex() = default;
  // Top-k by inner product, best first (ties: lower id first where the search is exact).
  // `ef`: the beam width of an approximate search (0: its default); ignored by exact search.
  virtual void Search(const float* query, int k, std::vector<ScoredVideo>* out, int ef = 0) const = 0;
  // The same for `queries` (row-major, n x dim): (*out)[i] answers row i. The default runs
  // Search per row; exact search reads the embeddings once for all rows.
  virtual void SearchBatch(absl::Span<const float> queries, int k, std::vector<std::vector<ScoredVideo>>* out,
                           int ef = 0) const;
  // The embedding of `video`, or nullptr if it is not indexed.
  virtual const float* Embedding(VideoId video) const = 0;
  virtual size_t size() const = 0;
  virtual int dim() const = 0;
};

}  // namespace vrec::retrieval

#endif  // VREC_RETRIEVAL_VECTOR_INDEX_H_
