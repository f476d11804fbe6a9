// Model bundles: <models>/<version>/ holds everything one version of the feed needs, with a
// MANIFEST (common/world.h's key=value format). Versions are increasing integers; a server
// loads the highest complete one. The user tower and the item index of a bundle always come
// from the same training run: build-index writes into the bundle train-retrieval created.
//
//   MANIFEST            format_version, kind, created_ms, training window and metrics, model
//                       config (dims, hash buckets), index parameters and measured recall,
//                       complete=1 once the index is built
//   two_tower.pt        LibTorch weights of both towers
//   items.bin           the indexed videos: ids and embeddings (retrieval/hnsw_index.h)
//   hnsw.index          the hnswlib graph over those embeddings
#ifndef VREC_RETRIEVAL_BUNDLE_H_
#define VREC_RETRIEVAL_BUNDLE_H_

#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "common/world.h"
#include "retrieval/hnsw_index.h"
#include "retrieval/two_tower.h"

namespace vrec {

inline constexpr int kBundleFormatVersion = 1;

std::string BundleDir(const std::string& models_dir, int64_t version);
std::string BundleManifestPath(const std::string& bundle_dir);
std::string BundleModelPath(const std::string& bundle_dir);
std::string BundleItemsPath(const std::string& bundle_dir);
std::string BundleIndexPath(const std::string& bundle_dir);

// One more than the highest version under `models_dir` (1 if none); creates the directory.
absl::StatusOr<int64_t> NextBundleVersion(const std::string& models_dir);
// The highest version whose MANIFEST says complete=1. NotFound if there is none.
absl::StatusOr<int64_t> LatestCompleteBundle(const std::string& models_dir);
// The highest version with a MANIFEST (complete or not). NotFound if there is none.
absl::StatusOr<int64_t> LatestBundle(const std::string& models_dir);

void WriteModelConfig(const TwoTowerConfig& config, KeyValueFile* manifest);
// InvalidArgument naming the missing or bad key.
absl::StatusOr<TwoTowerConfig> ReadModelConfig(const KeyValueFile& manifest);

// Reads and checks a bundle's MANIFEST (format version). NotFound if absent.
absl::StatusOr<KeyValueFile> ReadBundleManifest(const std::string& bundle_dir);

// A loaded, checked, immutable retrieval bundle: what the server swaps in as one unit.
struct RetrievalBundle {
  int64_t version = 0;
  std::string dir;
  KeyValueFile manifest;
  std::shared_ptr<const TwoTowerModel> model;
  std::shared_ptr<const HnswIndex> index;
};

// Loads <models_dir>/<version>/ and checks it: complete=1, the index matches the model's
// dimension and the MANIFEST's item count, and a user-tower forward gives unit-length
// output. FailedPrecondition for an incomplete or inconsistent bundle, DataLoss for corrupt
// files, NotFound for a missing one.
absl::StatusOr<std::shared_ptr<const RetrievalBundle>> LoadRetrievalBundle(const std::string& models_dir,
                                                                           int64_t version);

}  // namespace vrec

#endif  // VREC_RETRIEVAL_BUNDLE_H_
