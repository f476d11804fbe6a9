// Learned systems under test for `vrec replay`, trained on the replay's past only:
//
//   item-knn    item-to-item collaborative filtering: cosine similarity of co-engagement
//               (videos engaged by the same users), summed over the user's most recent
//               engaged videos. The classic strong baseline for next-item recommendation.
//   two-tower   a trained bundle's towers, with user and video features rebuilt point-in-time
//               from the replay's past (the same FeatureReplay and transforms as training and
//               serving), ranked by exact inner product over every available video.
#ifndef VREC_TOOLS_REPLAY_MODELS_H_
#define VREC_TOOLS_REPLAY_MODELS_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "common/world.h"
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

}  // namespace vrec

#endif  // VREC_TOOLS_REPLAY_MODELS_H_
