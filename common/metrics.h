// Offline evaluation metrics: top-k ranking metrics accumulated over test cases (replay, the
// ranker's validation slates) and binary classification metrics (the ranker's heads).
#ifndef VREC_COMMON_METRICS_H_
#define VREC_COMMON_METRICS_H_

#include <cstdint>
#include <utility>
#include <vector>

#include "absl/types/span.h"
#include "common/types.h"

namespace vrec {

// One test case's ground truth: the videos the user engaged with, each with its graded
// relevance (1..3, see RelevanceGrade), sorted by video id, no duplicates.
using Relevance = std::vector<std::pair<VideoId, int>>;

struct RankingMetrics {
  double ndcg = 0;    // graded gains 2^g - 1, log2 discount, normalised by the ideal top k
  double recall = 0;  // relevant videos in the top k / relevant videos
  double hit = 0;     // 1 if any relevant video is in the top k
  double ap = 0;      // average precision at k, normalised by min(k, relevant videos)
};

// Scores one ranked list (the first k entries count) against `relevance`.
RankingMetrics ScoreRanking(absl::Span<const VideoId> ranked, const Relevance& relevance, int k);

// Sums metrics over test cases. Not thread-safe; merge per-thread accumulators.
class MetricsAccumulator {
 public:
  void Add(const RankingMetrics& m);
  void Merge(const MetricsAccumulator& other);
  RankingMetrics Mean() const;
  uint64_t count() const { return count_; }

 private:
  RankingMetrics sum_;
  uint64_t count_ = 0;
};

// Area under the ROC curve of `scores` for binary `labels` (ties count half). 0.5 when
// either class is empty.
double Auc(absl::Span<const float> scores, absl::Span<const uint8_t> labels);
// Mean binary cross-entropy of probabilities against labels (clamped to [1e-7, 1 - 1e-7]).
double LogLoss(absl::Span<const float> probabilities, absl::Span<const uint8_t> labels);

}  // namespace vrec

#endif  // VREC_COMMON_METRICS_H_
