// The item index: every indexed video's id and embedding, and an HNSW graph (hnswlib) over
// the embeddings for inner-product search. Built offline by `vrec build-index`, loaded by the
// server; immutable once built or loaded, so concurrent searches need no locks.
//
// items.bin (version 1, little-endian): magic "VRECITM1", u32 version, u32 dim, u64 count,
// count x u32 video ids (ascending), count x dim x f32 embeddings, u32 CRC-32C of all before.
#ifndef VREC_RETRIEVAL_HNSW_INDEX_H_
#define VREC_RETRIEVAL_HNSW_INDEX_H_

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "common/types.h"
#include "retrieval/vector_index.h"

namespace vrec::retrieval {

struct HnswOptions {
  int m = 16;                 // graph degree (hnswlib M)
  int ef_construction = 200;  // build-time beam width
  int ef_search = 128;        // query-time beam width (>= k is used)
  int threads = 2;            // build threads
  uint64_t seed = 100;
};

// The approximate VectorIndex.
class HnswIndex : public VectorIndex {
 public:
  // Builds from `ids` (any order, unique) and row-major `embeddings` (ids.size() x dim).
  static absl::StatusOr<std::unique_ptr<HnswIndex>> Build(std::vector<VideoId> ids, std::vector<float> embeddings,
                                                          int dim, const HnswOptions& options);
  // DataLoss for corrupt files, NotFound for missing ones.
  static absl::StatusOr<std::unique_ptr<HnswIndex>> Load(const std::string& items_path, const std::string& index_path,
                                                         int ef_search);
  ~HnswIndex() override;

  [[nodiscard]] absl::Status Save(const std::string& items_path, const std::string& index_path) const;

  // Approximate top-k by inner product, best first, with beam width max(ef, k) (ef 0: the
  // index's efSearch). Thread-safe; concurrent searches share nothing mutable but hnswlib's
  // pool of visited lists.
  void Search(const float* query, int k, std::vector<ScoredVideo>* out, int ef = 0) const override;
  // Exact top-k by brute force (for recall measurement and small catalogs). Thread-safe.
  void ExactSearch(const float* query, int k, std::vector<ScoredVideo>* out) const;
  // Changes the default query-time beam width. Not thread-safe: only before searches are shared.
  void set_ef_search(int ef);
  int ef_search() const { return ef_search_; }
  // The embedding of `video`, or nullptr if it is not indexed.
  const float* Embedding(VideoId video) const override;

  size_t size() const override { return ids_.size(); }
  int dim() const override { return dim_; }
  const std::vector<VideoId>& ids() const { return ids_; }
  // Row i is the embedding of ids()[i].
  const std::vector<float>& embeddings() const { return embeddings_; }
  // Bytes held by the graph and the embeddings.
  size_t memory_bytes() const;

 private:
  HnswIndex() = default;
  struct Graph;

  int dim_ = 0;
  int ef_search_ = 128;
  void BuildLookup();

  std::vector<VideoId> ids_;        // ascending; position = hnswlib label
  // Position + 1 of each id (0: absent), when ids are dense enough (max id < 4 * size + 1024);
  // otherwise empty and Embedding() binary-searches ids_.
  std::vector<uint32_t> row_of_;
  std::vector<float> embeddings_;   // by position
  std::unique_ptr<Graph> graph_;
};

// Mean recall@k of Search against ExactSearch over `queries` (row-major, n x dim). A result
// counts when its score reaches the exact k-th score, so ties do not count as misses.
double MeasureRecall(const HnswIndex& index, absl::Span<const float> queries, int k);

}  // namespace vrec::retrieval

#endif  // VREC_RETRIEVAL_HNSW_INDEX_H_
