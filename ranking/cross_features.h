// Cross features of the ranker: what relates one user to one candidate video (category
// affinity, the user's history with the video's creator, the two-tower retrieval score,
// language match). The ranker's training examples (training/ranker_trainer.h) and the feed
// (serving/) both build them through UserCrossContext, so the ranker sees identical inputs
// offline and online.
#ifndef VREC_RANKING_CROSS_FEATURES_H_
#define VREC_RANKING_CROSS_FEATURES_H_

#include <array>
#include <cstdint>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/types/span.h"
#include "common/types.h"
#include "common/world.h"
#include "featurestore/features.h"

namespace vrec {

inline constexpr int kCrossFeatures = 8;

// Indexes into CrossInputs::dense.
enum CrossFeature : int {
  kCrossCategoryShare = 0,     // the user's 7-day affinity share of the video's category
  kCrossCategoryRank = 1,      // 1 / (1 + rank) when the category is in the user's top 4, else 0
  kCrossCreatorCount = 2,      // log1p(history entries by the video's creator)
  kCrossCreatorShare = 3,      // those entries / history length
  kCrossCreatorWatch = 4,      // their mean watch ratio (0 if none)
  kCrossRetrievalScore = 5,    // two-tower inner product of user and video (0 if unknown)
  kCrossHasRetrievalScore = 6, // 1 when the inner product is known
  kCrossLanguageMatch = 7,     // 1 same language, 0 different, 0.5 unknown
};

struct CrossInputs {
  std::array<float, kCrossFeatures> dense{};

  bool operator==(const CrossInputs& o) const { return dense == o.dense; }
};

// The creator of each video in the user's history, from the catalog (offline jobs; the server
// reads them from the store): kInvalidId where the catalog does not know the video.
void CatalogHistoryCreators(const UserFeatures& user, const Catalog& catalog, std::vector<CreatorId>* out);

// The user's side of the cross features, computed once per request (or training slate).
// Immutable after construction; holds no pointer into `user`.
class UserCrossContext {
 public:
  // `history_creators[i]` is the creator of user.history[i] (kInvalidId when unknown); it may
  // be empty, which counts every history entry as by an unknown creator.
  UserCrossContext(const UserFeatures& user, absl::Span<const CreatorId> history_creators);

  CrossInputs Make(const VideoFeatures& video, float retrieval_score, bool has_retrieval_score) const;

 private:
  struct CreatorStats {
    int count = 0;
    float watch_sum = 0;
  };
  std::vector<std::pair<uint32_t, float>> affinity_;       // category hash, 7-day weight
  std::array<uint32_t, 4> top_categories_{};                // by 7-day weight, 0 = none
  float affinity_total_ = 0;
  absl::flat_hash_map<CreatorId, CreatorStats> creators_;
  float history_size_ = 0;
  uint32_t language_ = 0;  // CategoryHash of the user's language, 0 unknown
};

}  // namespace vrec

#endif  // VREC_RANKING_CROSS_FEATURES_H_
