// The one candidate featurizer: turns a user, a request context and one candidate video (its
// features and every source's evidence about it) into the ranker's inputs. The feed
// (pipeline/recommender.h, for the server and the replay alike) and the ranker's training
// examples (training/ranker_trainer.h) all build inputs here, so the ranker sees the same
// thing offline and online.
//
// RequestSignals gathers the source evidence of one request where it is computed from the
// request's own state: the two-tower score the retriever gave each candidate, the item-to-item
// similarity from the model's item embeddings, the trending and popular ranks from the
// popularity snapshot. Training rebuilds the same evidence point in time and fills
// SourceSignals itself.
#ifndef VREC_RANKING_CANDIDATE_FEATURIZER_H_
#define VREC_RANKING_CANDIDATE_FEATURIZER_H_

#include <vector>

#include "absl/types/span.h"
#include "common/types.h"
#include "featurestore/features.h"
#include "featurestore/transforms.h"
#include "ranking/cross_features.h"
#include "retrieval/candidates.h"
#include "retrieval/trending.h"
#include "retrieval/vector_index.h"

namespace vrec::ranking {

// What one request's sources know, for SourceSignals. Pointers are not owned and may be null
// (no model, no snapshot): the signal is then unknown. Immutable after Init.
class RequestSignals {
 public:
  // The user's engaged seeds (EngagedSeeds) found in `index`: the item-to-item similarity.
  void Init(const retrieval::VectorIndex* index, const featurestore::UserFeatures& user,
            const retrieval::Trending* trending, const retrieval::Trending* popular);
  // The candidate's retrieval score is the two-tower signal where it is the inner product.
  SourceSignals For(const retrieval::Candidate& candidate) const;

 private:
  const retrieval::VectorIndex* index_ = nullptr;
  std::vector<VideoId> seed_ids_;
  std::vector<const float*> seeds_;
  const retrieval::Trending* trending_ = nullptr;
  const retrieval::Trending* popular_ = nullptr;
};

// One user's candidates. Immutable after construction.
class CandidateFeaturizer {
 public:
  // `history_creators[i]`: the creator of user.history[i] (see UserCrossContext).
  CandidateFeaturizer(const featurestore::UserFeatures& user, absl::Span<const CreatorId> history_creators,
                      const featurestore::FeatureContext& context, const featurestore::TransformOptions& transform);

  const featurestore::UserInputs& user() const { return user_; }
  // The ranker's video and cross inputs of one candidate at the request's time.
  void Featurize(const featurestore::VideoFeatures& video, const SourceSignals& signals,
                 featurestore::VideoInputs* inputs, CrossInputs* cross) const;
  // The same at another time (training's sampled not-shown videos take the features and time
  // of when their slate closes).
  void FeaturizeAt(TimestampMs now_ms, const featurestore::VideoFeatures& video, const SourceSignals& signals,
                   featurestore::VideoInputs* inputs, CrossInputs* cross) const;

 private:
  featurestore::FeatureContext context_;
  featurestore::TransformOptions transform_;
  featurestore::UserInputs user_;
  UserCrossContext cross_;
};

}  // namespace vrec::ranking

#endif  // VREC_RANKING_CANDIDATE_FEATURIZER_H_
