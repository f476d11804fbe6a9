// ExactIndex: the brute-force VectorIndex. Every search scores every video with InnerProduct
// and keeps the best k (ties: lower id first), so results are exact and reproducible. A batch
// of queries is answered in one pass over the embeddings, block by block, so the embeddings
// are read from memory once per batch instead of once per query.
#ifndef VREC_RETRIEVAL_EXACT_INDEX_H_
#define VREC_RETRIEVAL_EXACT_INDEX_H_

#include <memory>
#include <vector>

#include "absl/status/statusor.h"
#include "retrieval/vector_index.h"

namespace vrec::retrieval {

class ExactIndex : public VectorIndex {
 public:
  // `ids`: unique, any order; `embeddings`: row-major, ids.size() x dim. InvalidArgument on
  // mismatched sizes or duplicate ids.
  static absl::StatusOr<std::unique_ptr<ExactIndex>> Create(std::vector<VideoId> ids, std::vector<float> embeddings,
                                                            int dim);

  void Search(const float* query, int k, std::vector<ScoredVideo>* out, int ef = 0) const override;
  void SearchBatch(absl::Span<const float> queries, int k, std::vector<std::vector<ScoredVideo>>* out,
                   int ef = 0) const override;
  const float* Embedding(VideoId video) const override;
  size_t size() const override { return ids_.size(); }
  int dim() const override { return dim_; }
  const std::vector<VideoId>& ids() const { return ids_; }
  // Row i is the embedding of ids()[i].
  const std::vector<float>& embeddings() const { return embeddings_; }

 private:
  ExactIndex() = default;
  int dim_ = 0;
  std::vector<VideoId> ids_;       // ascending
  std::vector<float> embeddings_;  // row i: ids_[i]
};

}  // namespace vrec::retrieval

#endif  // VREC_RETRIEVAL_EXACT_INDEX_H_
