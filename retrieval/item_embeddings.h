// The item side of a two-tower model over a whole catalog: every video of a FeatureView
// embedded with the item tower, as of one time. `vrec build-index` indexes these (from the
// online store) and the replay evaluator searches them exactly (from point-in-time features):
// one function, the same batches, so the two hold bit-identical embeddings for the same
// features.
#ifndef VREC_RETRIEVAL_ITEM_EMBEDDINGS_H_
#define VREC_RETRIEVAL_ITEM_EMBEDDINGS_H_

#include <vector>

#include "absl/status/status.h"
#include "common/types.h"
#include "featurestore/feature_view.h"
#include "retrieval/two_tower.h"

namespace vrec::retrieval {

struct ItemEmbeddings {
  std::vector<VideoId> ids;     // ascending: every video of the view with catalog metadata
  std::vector<float> vectors;   // row-major, ids.size() x dim
};

// Embeds every known video of `view` with features as of `now_ms` (device unknown), in id
// order and fixed batches. Errors: the view's, or the model's.
[[nodiscard]] absl::Status EmbedCatalog(const featurestore::FeatureView& view, const TwoTowerModel& model,
                                        TimestampMs now_ms, ItemEmbeddings* out);

}  // namespace vrec::retrieval

#endif  // VREC_RETRIEVAL_ITEM_EMBEDDINGS_H_
