// Learned fusion: the last scoring stage of the feed. It orders the candidates from what every
// candidate source and the ranker say about them, learned listwise on held-out next engagements
// over the candidates the sources actually returned (training/fusion_trainer.h). It is what
// makes the collaborative sources, the two-tower model and the ranker one list on logs without
// impressions, where the ranker alone learns little beyond popularity.
//
// Inputs per candidate (FusionInputs): for each source, whether it returned the candidate, its
// rank there (1 / log2(1 + rank)) and its score relative to that source's best in the request;
// the ranker's combined score relative to the request's best and its rank; the two-tower inner
// product. A small MLP (kFusionFeatures -> hidden -> 1) gives a logit per candidate; the served
// score is exp(logit - the request's best logit), the candidate's softmax weight relative to the
// best one (in (0, 1]).
#ifndef VREC_RANKING_FUSION_H_
#define VREC_RANKING_FUSION_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "retrieval/candidates.h"

namespace vrec::ranking {

inline constexpr int kFusionSourceFeatures = 3;
inline constexpr int kFusionFeatures = kFusionSourceFeatures * retrieval::kNumSources + 4;

// Row i (kFusionFeatures floats) describes candidates[i]; `ranker_scores` is empty when the
// request was not ranked.
void FusionInputs(absl::Span<const retrieval::Candidate> candidates, absl::Span<const float> ranker_scores,
                  std::vector<float>* out);

struct FusionNetHolder;

// Thread-safe for concurrent Score calls (inference only).
class FusionModel {
 public:
  static absl::StatusOr<std::unique_ptr<FusionModel>> Create(int hidden, uint64_t seed);
  // From now on, Score orders the candidates `source` returned first, by their rank there, and
  // the others after them by this fusion. What the feed uses when the learned fusion alone
  // loses to the best single source (MANIFEST fusion.order names the source).
  void LeadBy(retrieval::SourceId source) { lead_ = source; }
  // DataLoss for a missing or corrupt file or one of another shape.
  static absl::StatusOr<std::unique_ptr<FusionModel>> Load(const std::string& path, int hidden);
  ~FusionModel();
  [[nodiscard]] absl::Status Save(const std::string& path) const;

  int hidden() const { return hidden_; }
  // Scores (in [0, 1], the best 1) of the n rows of FusionInputs of one request.
  [[nodiscard]] absl::Status Score(absl::Span<const float> inputs, float* scores) const;

  // Training: listwise softmax cross-entropy over each query's candidates, for each of its
  // engaged ones: the target against the candidates that are not engaged ones (the request's
  // other engaged videos are not negatives). `queries[q]` = (first row, rows, the target rows
  // within the query); a request is one query however many targets it has, so its rows go
  // through the network once.
  struct Query {
    size_t first = 0;
    size_t rows = 0;
    std::vector<uint32_t> targets;
  };
  // One pass over `queries` in the given order, in batches of `batch` queries, with Adam at
  // `learning_rate` (the optimizer state lives in the model). Returns the mean loss.
  absl::StatusOr<double> TrainEpoch(absl::Span<const float> inputs, absl::Span<const Query> queries, int batch,
                                    double learning_rate);

 private:
  FusionModel(int hidden, std::unique_ptr<FusionNetHolder> net);
  int hidden_;
  std::unique_ptr<FusionNetHolder> net_;
  int lead_ = -1;  // a SourceId, or -1
};

}  // namespace vrec::ranking

#endif  // VREC_RANKING_FUSION_H_
