// Cross features of the ranker: what relates one user to one candidate video (category
// affinity, the user's history with the video's creator, language match) and what each
// candidate source knows about it (SourceSignals).
//
// The source inputs are each source's own evidence, computed for every candidate whichever
// source proposed it: the two-tower score, the item-to-item similarity to the user's last
// engaged videos, the trending and popular ranks as of the last refresh, and how fresh the
// upload is. Membership flags ("proposed by trending") are not inputs: the logged impressions
// the ranker learns from were not chosen by our sources, and membership in the two-tower or
// item-to-item lists cannot be rebuilt for a past request without an index of that time (the
// bundle's index holds end-of-training embeddings, which would leak later engagement). The
// evidence itself is rebuilt point in time, and membership is a threshold on it. The ranker's training examples (training/ranker_trainer.h) and the feed
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

namespace vrec::ranking {

inline constexpr int kCrossFeatures = 13;
// The engaged history videos the item-to-item signal compares with (newest first).
inline constexpr int kCrossSeeds = 5;
// Trending and popular ranks beyond this are 0 ("not ranked").
inline constexpr uint32_t kCrossRankCap = 1000;
// Uploads younger than this have a freshness signal (the fresh source's default window).
inline constexpr TimestampMs kCrossFreshWindowMs = 2 * kMsPerDay;

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
  kCrossItemToItem = 8,        // best inner product with a seed's item embedding (0 if unknown)
  kCrossHasItemToItem = 9,     // 1 when it is known (the user has engaged seeds, the video an embedding)
  kCrossTrendingRank = 10,     // 1 - ln(rank) / ln(1 + kCrossRankCap) in the trending list, 0 unranked
  kCrossPopularRank = 11,      // the same for the all-time popular list
  kCrossFresh = 12,            // 1 - age / kCrossFreshWindowMs for an upload younger than that, else 0
};

// What the candidate sources know about one candidate in one request.
struct SourceSignals {
  float retrieval_score = 0;       // two-tower inner product of user and video
  bool has_retrieval_score = false;
  float item_to_item = 0;          // ItemToItemScore
  bool has_item_to_item = false;
  uint32_t trending_rank = 0;      // 1-based rank in the trending list (0: not ranked)
  uint32_t popular_rank = 0;       // 1-based rank in the all-time popular list
};

// The user's last kCrossSeeds engaged history videos (IsEngagedEntry), newest first.
void EngagedSeeds(const featurestore::UserFeatures& user, std::vector<VideoId>* out);

// The best inner product of `embedding` with any of `seeds` (each `dim` floats, null ones
// skipped): the item-to-item source's own score. False when there is nothing to compare.
bool ItemToItemScore(absl::Span<const float* const> seeds, const float* embedding, int dim, float* score);

struct CrossInputs {
  std::array<float, kCrossFeatures> dense{};

  // The signals that need embeddings, set after Make where they are computed in bulk.
  void SetRetrievalScore(float score, bool known);
  void SetItemToItem(float score, bool known);

  bool operator==(const CrossInputs& o) const { return dense == o.dense; }
};

// The creator of each video in the user's history, from the catalog (offline jobs; the server
// reads them from the store): kInvalidId where the catalog does not know the video.
void CatalogHistoryCreators(const featurestore::UserFeatures& user, const Catalog& catalog,
                            std::vector<CreatorId>* out);

// The user's side of the cross features, computed once per request (or training slate).
// Immutable after construction; holds no pointer into `user`.
class UserCrossContext {
 public:
  // `history_creators[i]` is the creator of user.history[i] (kInvalidId when unknown); it may
  // be empty, which counts every history entry as by an unknown creator.
  UserCrossContext(const featurestore::UserFeatures& user, absl::Span<const CreatorId> history_creators);

  // `now_ms`: the request time (freshness).
  CrossInputs Make(const featurestore::VideoFeatures& video, TimestampMs now_ms, const SourceSignals& signals) const;

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

}  // namespace vrec::ranking

#endif  // VREC_RANKING_CROSS_FEATURES_H_
