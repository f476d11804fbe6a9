// `vrec build-index`: completes a model bundle with the item index. Every video in the feature
// store goes through the bundle's item tower; the embeddings are indexed with HNSW; recall@K
// against exact search is measured on real user queries (sampled users' features from the
// store through the bundle's user tower) and efSearch is chosen as the smallest value meeting
// the recall target. It then fits the collaborative tables (retrieval/collaborative_fit.h) on
// the two-tower model's training window. The MANIFEST records it all and marks the bundle
// complete.
#ifndef VREC_TRAINING_INDEX_BUILDER_H_
#define VREC_TRAINING_INDEX_BUILDER_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "bundle/manifest.h"
#include "common/leave_last_out.h"
#include "common/random.h"
#include "retrieval/collaborative_fit.h"
#include "common/world.h"
#include "featurestore/feature_store.h"
#include "retrieval/hnsw_index.h"
#include "retrieval/two_tower.h"

namespace vrec::training {

struct IndexBuildOptions {
  int64_t version = 0;          // bundle version; 0: the latest
  retrieval::HnswOptions hnsw;  // hnsw.ef_search 0: tune to recall_target
  double recall_target = 0.95;
  int recall_k = 100;
  uint32_t recall_queries = 500;
  bool collaborative = true;            // also fit the collaborative tables (collab.bin)
  retrieval::CollabFitOptions collab;
  bool show_progress = true;
};

struct IndexBuildSummary {
  std::string bundle_dir;
  uint64_t items = 0;
  double embed_seconds = 0;
  double build_seconds = 0;
  size_t memory_bytes = 0;
  int ef_search = 0;
  double recall = 0;
  double collab_seconds = 0;
  int64_t collab_ease_videos = 0;
};

// User-tower queries for recall measurements: `n` users drawn uniformly (with replacement)
// from the catalog, their features read from the store as of its snapshot, embedded by
// `model`. Row i is query i (model.dim() floats).
absl::StatusOr<std::vector<float>> SampleUserQueries(const Catalog& catalog, const featurestore::FeatureStore& store,
                                                     const retrieval::TwoTowerModel& model, uint32_t n, Rng& rng);

// The engagements the bundle's two-tower model trained on, by (user, time): before
// train.end_ms (time-split), or all but the test items (leave-last-out, random). The validation
// part is included: the exported tables learn from all the training data.
absl::StatusOr<std::vector<Engagement>> TrainingEngagements(const std::string& world_dir,
                                                            const bundle::BundleManifest& manifest);

absl::StatusOr<IndexBuildSummary> BuildBundleIndex(const std::string& world_dir, const std::string& store_dir,
                                                   const std::string& models_dir, const IndexBuildOptions& options);

}  // namespace vrec::training

#endif  // VREC_TRAINING_INDEX_BUILDER_H_
