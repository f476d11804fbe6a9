#include "ranking/candidate_featurizer.h"

namespace vrec::ranking {

void RequestSignals::Init(const retrieval::VectorIndex* index, const featurestore::UserFeatures& user,
                          const retrieval::Trending* trending, const retrieval::Trending* popular) {
  index_ = index;
  trending_ = trending;
  popular_ = popular;
  seeds_.clear();
  EngagedSeeds(user, &seed_ids_);
  if (index_ != nullptr) {
    for (VideoId v : seed_ids_) seeds_.push_back(index_->Embedding(v));
  }
}

SourceSignals RequestSignals::For(const retrieval::Candidate& candidate) const {
  SourceSignals s;
  s.has_retrieval_score = candidate.embedded;
  if (candidate.embedded) s.retrieval_score = candidate.score;
  if (index_ != nullptr) {
    s.has_item_to_item = ItemToItemScore(seeds_, index_->Embedding(candidate.video), index_->dim(), &s.item_to_item);
  }
  if (trending_ != nullptr) s.trending_rank = trending_->rank(candidate.video);
  if (popular_ != nullptr) s.popular_rank = popular_->rank(candidate.video);
  return s;
}

CandidateFeaturizer::CandidateFeaturizer(const featurestore::UserFeatures& user,
                                         absl::Span<const CreatorId> history_creators,
                                         const featurestore::FeatureContext& context,
                                         const featurestore::TransformOptions& transform)
    : context_(context),
      transform_(transform),
      user_(featurestore::TransformUser(user, context, transform)),
      cross_(user, history_creators) {}

void CandidateFeaturizer::Featurize(const featurestore::VideoFeatures& video, const SourceSignals& signals,
                                    featurestore::VideoInputs* inputs, CrossInputs* cross) const {
  FeaturizeAt(context_.now_ms, video, signals, inputs, cross);
}

void CandidateFeaturizer::FeaturizeAt(TimestampMs now_ms, const featurestore::VideoFeatures& video,
                                      const SourceSignals& signals, featurestore::VideoInputs* inputs,
                                      CrossInputs* cross) const {
  // The video transform reads only the time of the context (ages, decayed counters).
  *inputs = featurestore::TransformVideo(video, featurestore::FeatureContext{now_ms, context_.device}, transform_);
  *cross = cross_.Make(video, now_ms, signals);
}

}  // namespace vrec::ranking
