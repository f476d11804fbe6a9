// Collaborative candidate sources: what users who engaged with the same videos engaged with.
// Three tables, each mapping a video to its best neighbours with a weight, built offline from the
// bundle's training window (retrieval/collaborative_fit.h) and stored in the bundle
// (collab.bin):
//
//   item_knn     cosine similarity of co-engagement (the videos' user sets)
//   ease         EASE (Steck 2019): the closed-form linear item-item model B that reconstructs
//                each user's engagement row from the others; a video's row holds its largest
//                weights B[video, ·]
//   transitions  which videos follow which in users' engagement order (the next three, weighted
//                1, 1/2, 1/3), as a share of everything that followed the video
//
// A user's score for a video is the sum of the table weights from the user's input videos to
// it: every engaged video for item_knn and ease (EngagedVideos), the last three engaged,
// weighted 1, 1/2, 1/3, for transitions. Tables are immutable and shared by every request.
//
// A small catalog (at most CollabFitOptions::ease_dense_max videos in the EASE cap) also keeps
// EASE's whole weight matrix, and the ease source then scores with every weight, the negative
// ones included, exactly as the closed form does: keeping only each row's best weights costs
// EASE about 0.026 NDCG@10 on ml-latest-small (random split: 0.413 exact, 0.387 with the 200
// best positive weights per row, 0.402 with the 1,000 largest in magnitude).
#ifndef VREC_RETRIEVAL_COLLABORATIVE_H_
#define VREC_RETRIEVAL_COLLABORATIVE_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "common/types.h"
#include "featurestore/features.h"
#include "retrieval/vector_index.h"

namespace vrec::retrieval {

enum CollabTable : int { kCollabItemKnn = 0, kCollabEase, kCollabTransitions, kNumCollabTables };
const char* CollabTableName(int table);

// Video -> best neighbours, weight descending. Immutable after Finish.
class NeighbourTable {
 public:
  // Rows are added in any order, each once; `neighbours` best first.
  void AddRow(VideoId video, absl::Span<const ScoredVideo> neighbours);
  // Builds the lookup; call once after the last AddRow (Load calls it).
  void Finish();

  struct Row {
    absl::Span<const VideoId> neighbours;
    absl::Span<const float> weights;  // aligned with neighbours
  };
  // The video's row (empty when the table has none).
  Row Find(VideoId video) const;
  absl::Span<const VideoId> Neighbours(VideoId video) const { return Find(video).neighbours; }
  absl::Span<const float> Weights(VideoId video) const { return Find(video).weights; }
  size_t rows() const { return keys_.size(); }
  size_t entries() const { return neighbours_.size(); }
  size_t memory_bytes() const;

  void AppendTo(std::string* out) const;
  // Reads one table at *pos of `bytes` and advances it. DataLoss on malformed input.
  absl::Status ReadFrom(absl::string_view bytes, size_t* pos);

 private:
  std::vector<VideoId> keys_;
  std::vector<uint32_t> offsets_{0};  // row i: [offsets_[i], offsets_[i+1])
  std::vector<VideoId> neighbours_;
  std::vector<float> weights_;
  absl::flat_hash_map<VideoId, uint32_t> row_;
};

// What the fit used, recorded in the MANIFEST.
struct CollaborativeInfo {
  int64_t users = 0;
  int64_t engagements = 0;
  int64_t catalog_videos = 0;   // videos with a training engagement
  int64_t ease_videos = 0;      // the most engaged videos item_knn and ease cover (the cap)
  int ease_cap = 0;
  double ease_lambda = 0;
  int neighbours = 0;           // kept per row (item_knn, ease)
  int transition_neighbours = 0;
  int ease_dense_max = 0;       // the EASE weights are kept whole up to this many videos
  double fit_seconds = 0;
  // Whether they were: the model's ease_dense is filled exactly then.
  bool ease_dense() const { return ease_videos > 0 && ease_videos <= ease_dense_max; }
};

// EASE's dense weights B (n x n, row-major) over the videos of its rows and columns.
struct DenseEase {
  std::vector<VideoId> videos;             // row/column i is videos[i]
  absl::flat_hash_map<VideoId, int> column;
  std::vector<float> weights;              // B[i * videos.size() + j]
  bool empty() const { return videos.empty(); }
};

struct CollaborativeModel {
  NeighbourTable tables[kNumCollabTables];
  DenseEase ease_dense;  // non-empty on a small catalog: the ease source scores with it
};

// The input videos of `table` for a user whose engaged videos are `engaged`
// (featurestore::EngagedVideos, oldest first; see the top of this file), with their weights.
void CollabInput(int table, absl::Span<const VideoId> engaged, std::vector<ScoredVideo>* out);

// The best `n` videos for `input` under `table`, not in `skip` (sorted) and not in the input,
// best first (score, then lower id).
void CollabScore(const NeighbourTable& table, absl::Span<const ScoredVideo> input, absl::Span<const VideoId> skip,
                 size_t n, std::vector<ScoredVideo>* out);

// The best `n` videos for `input` under the dense EASE weights (every weight counts; scores may
// be negative), not in `skip` (sorted) and not in the input, best first (score, then lower id).
// Nothing when no input video has a row.
void DenseEaseScore(const DenseEase& ease, absl::Span<const ScoredVideo> input, absl::Span<const VideoId> skip,
                    size_t n, std::vector<ScoredVideo>* out);

// collab.bin: "VRECCOL2", the three tables, the dense EASE weights (uint64 n, n video ids,
// n^2 floats; n = 0 without), CRC32C of everything before it. "VRECCOL1" files (no dense
// section) still load.
absl::Status SaveCollaborative(const CollaborativeModel& model, const std::string& path);
// NotFound when the file is absent, DataLoss when it is corrupt.
absl::StatusOr<std::shared_ptr<const CollaborativeModel>> LoadCollaborative(const std::string& path);

}  // namespace vrec::retrieval

#endif  // VREC_RETRIEVAL_COLLABORATIVE_H_
