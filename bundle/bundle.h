// Model bundles: <models>/<version>/ holds everything one version of the feed needs, described
// by a typed MANIFEST (bundle/manifest.h). Versions are increasing integers; a server loads the
// highest complete one. The user tower and the item index of a bundle always come from the
// same training run: build-index writes into the bundle train-retrieval created, and
// train-ranker writes a new version that links the base's retrieval files beside its ranker.
//
//   MANIFEST      the typed manifest (bundle/manifest.h)
//   two_tower.pt  LibTorch weights of both towers
//   items.bin     the indexed videos: ids and embeddings (retrieval/hnsw_index.h)
//   hnsw.index    the hnswlib graph over those embeddings
//   ranker.pt     the ranker's weights (bundles from train-ranker)
//   fusion.pt     the learned fusion, when it won its validation (train-ranker; ranking/fusion.h)
//   collab.bin    the collaborative tables: item-kNN, EASE, transitions (build-index;
//                 retrieval/collaborative.h)
//
// Loading checks the bundle before anything serves it: complete, the index matches the model's
// dimension and the MANIFEST's item count, the user tower gives unit vectors, and the ranker
// (if any) was trained on this build's cross features and gives probabilities.
#ifndef VREC_BUNDLE_BUNDLE_H_
#define VREC_BUNDLE_BUNDLE_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "bundle/manifest.h"
#include "ranking/fusion.h"
#include "ranking/ranker.h"
#include "retrieval/collaborative.h"
#include "retrieval/hnsw_index.h"
#include "retrieval/two_tower.h"

namespace vrec::bundle {

std::string BundleDir(const std::string& models_dir, int64_t version);
std::string BundleManifestPath(const std::string& bundle_dir);
std::string BundleModelPath(const std::string& bundle_dir);
// The two-tower model as validated, before the refit on the validation part: what learning on
// that part (the fusion) must use. Older bundles lack it; their model is the validated one.
std::string BundleHeldOutModelPath(const std::string& bundle_dir);
std::string BundleItemsPath(const std::string& bundle_dir);
std::string BundleIndexPath(const std::string& bundle_dir);
std::string BundleRankerPath(const std::string& bundle_dir);
std::string BundleCollabPath(const std::string& bundle_dir);
std::string BundleFusionPath(const std::string& bundle_dir);

// One more than the highest version under `models_dir` (1 if none); creates the directory.
absl::StatusOr<int64_t> NextBundleVersion(const std::string& models_dir);
// The highest version whose MANIFEST says complete. NotFound if there is none.
absl::StatusOr<int64_t> LatestCompleteBundle(const std::string& models_dir);
// Every version whose MANIFEST says complete, ascending.
std::vector<int64_t> CompleteBundles(const std::string& models_dir);
// The highest version with a MANIFEST (complete or not). NotFound if there is none.
absl::StatusOr<int64_t> LatestBundle(const std::string& models_dir);

// A loaded, checked, immutable bundle: what the server swaps in as one unit.
struct Bundle {
  int64_t version = 0;
  std::string dir;
  BundleManifest manifest;
  std::shared_ptr<const retrieval::TwoTowerModel> two_tower;
  std::shared_ptr<const retrieval::HnswIndex> index;
  std::shared_ptr<const ranking::RankerModel> ranker;  // null when the MANIFEST has no ranker
  std::shared_ptr<const retrieval::CollaborativeModel> collaborative;  // null when the MANIFEST has none
  std::shared_ptr<const ranking::FusionModel> fusion;  // null unless the MANIFEST says fusion.used
};

// Loads <models_dir>/<version>/ and checks it (see the top of this file). FailedPrecondition
// for an incomplete or inconsistent bundle or a ranker of another build, DataLoss for corrupt
// files, NotFound for a missing one.
absl::StatusOr<std::shared_ptr<const Bundle>> LoadBundle(const std::string& models_dir, int64_t version);

// The parts on their own, for offline jobs that read one bundle directory.
enum class TwoTowerWeights {
  kServed,   // two_tower.pt
  kHeldOut,  // the validated model that never saw the validation part (BundleHeldOutModelPath)
};
absl::StatusOr<std::unique_ptr<retrieval::TwoTowerModel>> LoadBundleTwoTower(
    const std::string& bundle_dir, const BundleManifest& manifest, TwoTowerWeights which = TwoTowerWeights::kServed);
// NotFound when the bundle has no collaborative tables.
absl::StatusOr<std::shared_ptr<const retrieval::CollaborativeModel>> LoadBundleCollaborative(
    const std::string& bundle_dir, const BundleManifest& manifest);
// NotFound unless the MANIFEST says fusion.used.
absl::StatusOr<std::shared_ptr<const ranking::FusionModel>> LoadBundleFusion(const std::string& bundle_dir,
                                                                             const BundleManifest& manifest);
// NotFound when the bundle has no ranker.
absl::StatusOr<std::shared_ptr<const ranking::RankerModel>> LoadBundleRanker(const std::string& bundle_dir,
                                                                             const BundleManifest& manifest);

}  // namespace vrec::bundle

#endif  // VREC_BUNDLE_BUNDLE_H_
