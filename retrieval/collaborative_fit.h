// Fits the collaborative tables (retrieval/collaborative.h) from engagement sequences: the
// offline half of the collaborative sources. `vrec build-index` fits them on the bundle's
// training window; the replay fits its EASE baseline the same way on the replay's past.
//
// item_knn and ease cover the `ease_cap` most engaged videos (default 20,000): EASE inverts a
// dense cap x cap Gram matrix (LibTorch, Cholesky; ~4 dense matrices of cap^2 floats, 6.4 GB
// at 20,000, about two minutes on 2 cores). Videos beyond the cap have no item_knn or ease rows
// and are never their candidates; the two-tower, transitions and the popularity sources still
// reach them. Transitions cover every video.
#ifndef VREC_RETRIEVAL_COLLABORATIVE_FIT_H_
#define VREC_RETRIEVAL_COLLABORATIVE_FIT_H_

#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "common/leave_last_out.h"
#include "retrieval/collaborative.h"

namespace vrec::retrieval {

struct CollabFitOptions {
  int ease_cap = 20000;        // videos item_knn and ease cover (the most engaged)
  double ease_lambda = 200;    // L2 regularisation of EASE (added to the Gram diagonal)
  int neighbours = 200;        // kept per video (item_knn, ease)
  int transition_neighbours = 50;
  int max_items_per_user = 1000;  // a user's most recent distinct videos counted in the Gram matrix
  int threads = 2;
  bool show_progress = true;
};

// `by_user`: engagements sorted by (user, time), as ReadEngagementsByUser returns them
// (already restricted to the training window). Each user's distinct videos in order of first
// engagement are their sequence. InvalidArgument for bad options.
absl::StatusOr<CollaborativeModel> FitCollaborative(absl::Span<const Engagement> by_user,
                                                    const CollabFitOptions& options, CollaborativeInfo* info);

// The dense EASE weights over the `cap` most engaged videos, for the replay's baseline:
// B (cap x cap, row-major), and the videos of its rows. Same options as above.
struct DenseEase {
  std::vector<VideoId> videos;             // row/column i is videos[i]
  absl::flat_hash_map<VideoId, int> column;
  std::vector<float> weights;              // B[i * videos.size() + j]
};
absl::StatusOr<DenseEase> FitDenseEase(absl::Span<const Engagement> by_user, const CollabFitOptions& options);

}  // namespace vrec::retrieval

#endif  // VREC_RETRIEVAL_COLLABORATIVE_FIT_H_
