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
  // Up to this many videos in the cap, the whole EASE matrix is kept as well (n^2 floats: 400 MB
  // at 10,000) and the ease source scores exactly (retrieval/collaborative.h); 0: never.
  int ease_dense_max = 10000;
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

// The dense EASE weights over the `cap` most engaged videos, for the replay's baseline (whatever
// ease_dense_max says). Same options as above.
absl::StatusOr<DenseEase> FitDenseEase(absl::Span<const Engagement> by_user, const CollabFitOptions& options);

// The item_knn table alone (the best `neighbours` cosines per video over the cap), for the
// replay's item-kNN baseline.
absl::StatusOr<NeighbourTable> FitItemKnn(absl::Span<const Engagement> by_user, const CollabFitOptions& options);

}  // namespace vrec::retrieval

#endif  // VREC_RETRIEVAL_COLLABORATIVE_FIT_H_
