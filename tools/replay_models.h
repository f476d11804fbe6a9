// Learned systems under test for `vrec replay`, trained on the replay's past only:
//
//   item-knn    item-to-item collaborative filtering: cosine similarity of co-engagement
//               (videos engaged by the same users), summed over the user's most recent
//               engaged videos. The classic strong baseline for next-item recommendation.
//   two-tower   a trained bundle's towers, with user and video features rebuilt point-in-time
//               from the replay's past (the same FeatureReplay and transforms as training and
//               serving), ranked by exact inner product over every available video.
//   full-pipeline  a bundle with a ranker: the server's five candidate sources with its quotas
//               (two-tower, item-to-item, trending, fresh, popular), each rebuilt as of the
//               split from point-in-time embeddings and counters (exact search instead of the
//               bundle's HNSW index, whose embeddings are end-of-log), every candidate scored by
//               the ranker on the same point-in-time features, then re-ranked (freshness and
//               diversity as served; exploration off), as the feed does.
#ifndef VREC_TOOLS_REPLAY_MODELS_H_
#define VREC_TOOLS_REPLAY_MODELS_H_

#include <array>
#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "common/world.h"
#include "ranking/reranker.h"
#include "retrieval/candidates.h"
#include "tools/replay.h"

namespace vrec {

struct ItemKnnOptions {
  int recent_items = 20;     // the user's most recent engaged videos that vote
  int users_per_item = 200;  // co-engaging users sampled per voting video
  int items_per_user = 50;   // most recent videos of each such user
};

std::unique_ptr<Recommender> MakeItemKnnRecommender(const ReplayData& data, const ItemKnnOptions& options);

// Embeds every test user and available video with the bundle at `bundle_dir` and ranks
// exactly, `depth` deep. FailedPrecondition if the bundle could have seen the test data: a
// time-split bundle trained past the split, or a bundle trained with another protocol.
absl::StatusOr<std::unique_ptr<Recommender>> MakeTwoTowerRecommender(const ReplayData& data,
                                                                      const std::string& world_dir,
                                                                      const Catalog& catalog,
                                                                      const std::string& bundle_dir, int depth,
                                                                      bool show_progress);

struct BundleReplayOptions {
  int depth = 100;                  // list length each system returns
  bool full_pipeline = true;        // also the full pipeline, if the bundle has a ranker
  // Full pipeline: candidates per source (SourceId order: two-tower, item-to-item, trending,
  // fresh, popular), the server's defaults; fresh uploads considered (the newest first).
  std::array<uint32_t, kNumSources> quota = RetrieverOptions().quota;
  size_t fresh_pool = 2000;
  RerankOptions rerank;             // full pipeline re-ranking (exploration is always off)
  bool show_progress = true;
};

struct BundleRecommenders {
  std::unique_ptr<Recommender> two_tower;
  std::unique_ptr<Recommender> full_pipeline;  // null when the bundle has no ranker
  int candidates_per_user = 0;                 // full pipeline: retrieval depth
  double retrieval_recall = 0;                 // full pipeline: share of engaged videos among the candidates
};

// The two-tower system and, when the bundle has a ranker, the full pipeline, from one
// point-in-time pass. Same preconditions as MakeTwoTowerRecommender (and for the ranker's
// training window).
absl::StatusOr<BundleRecommenders> MakeBundleRecommenders(const ReplayData& data, const std::string& world_dir,
                                                          const Catalog& catalog, const std::string& bundle_dir,
                                                          const BundleReplayOptions& options);

}  // namespace vrec

#endif  // VREC_TOOLS_REPLAY_MODELS_H_
