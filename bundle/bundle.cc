#include "bundle/bundle.h"

#include <cmath>
#include <filesystem>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "common/status.h"
#include "ranking/cross_features.h"

namespace vrec::bundle {
namespace {

// The numbered folders under `models_dir` (version, path), never throwing: the error_code
// overloads throughout (a range-for over a directory_iterator throws from its increment), so an
// unreadable folder, a symlink loop or an entry that vanishes mid-scan is skipped, not fatal.
std::vector<std::pair<int64_t, std::string>> NumberedDirs(const std::string& models_dir) {
  std::vector<std::pair<int64_t, std::string>> out;
  std::error_code ec;
  std::filesystem::directory_iterator it(models_dir, ec);
  for (const std::filesystem::directory_iterator end; !ec && it != end; it.increment(ec)) {
    std::error_code entry_ec;
    int64_t v;
    if (!it->is_directory(entry_ec) || entry_ec || !absl::SimpleAtoi(it->path().filename().string(), &v)) continue;
    out.emplace_back(v, it->path().string());
  }
  return out;
}

// Versions present under `models_dir`, ascending; `complete_only` keeps complete bundles.
std::vector<int64_t> Versions(const std::string& models_dir, bool complete_only) {
  std::vector<int64_t> out;
  for (const auto& [v, path] : NumberedDirs(models_dir)) {
    if (v <= 0) continue;
    absl::StatusOr<BundleManifest> m = ReadBundleManifest(path);
    if (!m.ok()) continue;
    if (complete_only && !m->complete) continue;
    out.push_back(v);
  }
  std::sort(out.begin(), out.end());
  return out;
}

// A search with known answers before the index serves: the embeddings of up to 16 indexed
// videos, spread over the index, searched through the graph, must find most of what exact
// search finds (a graph whose links were damaged without breaking its structure fails here).
absl::Status SmokeSearch(const retrieval::HnswIndex& index, const std::string& dir) {
  constexpr int kQueries = 16, kK = 10;
  constexpr double kMinRecall = 0.5;
  if (index.size() < static_cast<size_t>(2 * kK)) return absl::OkStatus();
  const size_t dim = index.dim();
  std::vector<float> queries;
  for (int q = 0; q < kQueries; ++q) {
    const size_t row = index.size() * q / kQueries;
    queries.insert(queries.end(), index.embeddings().begin() + row * dim, index.embeddings().begin() + (row + 1) * dim);
  }
  const double recall = retrieval::MeasureRecall(index, queries, kK);
  if (!(recall >= kMinRecall)) {
    return absl::FailedPreconditionError(absl::StrCat("bundle ", dir, ": the index's smoke search found ", recall,
                                                      " of the exact top ", kK, " (at least ", kMinRecall,
                                                      " expected): its graph is damaged"));
  }
  return absl::OkStatus();
}

}  // namespace

std::string BundleDir(const std::string& models_dir, int64_t version) {
  return absl::StrCat(models_dir, "/", version);
}
std::string BundleManifestPath(const std::string& d) { return d + "/MANIFEST"; }
std::string BundleModelPath(const std::string& d) { return d + "/two_tower.pt"; }
std::string BundleHeldOutModelPath(const std::string& d) { return d + "/two_tower_held_out.pt"; }
std::string BundleItemsPath(const std::string& d) { return d + "/items.bin"; }
std::string BundleIndexPath(const std::string& d) { return d + "/hnsw.index"; }
std::string BundleRankerPath(const std::string& d) { return d + "/ranker.pt"; }
std::string BundleCollabPath(const std::string& d) { return d + "/collab.bin"; }
std::string BundleFusionPath(const std::string& d) { return d + "/fusion.pt"; }

absl::StatusOr<int64_t> NextBundleVersion(const std::string& models_dir) {
  VREC_RETURN_IF_ERROR(MakeDirs(models_dir));
  int64_t highest = 0;
  for (const auto& [v, path] : NumberedDirs(models_dir)) highest = std::max(highest, v);
  return highest + 1;
}

absl::StatusOr<int64_t> LatestCompleteBundle(const std::string& models_dir) {
  const std::vector<int64_t> versions = Versions(models_dir, true);
  if (versions.empty()) {
    return absl::NotFoundError(absl::StrCat("no complete model bundle under ", models_dir,
                                            "; run `vrec train-retrieval` then `vrec build-index`"));
  }
  return versions.back();
}

std::vector<int64_t> CompleteBundles(const std::string& models_dir) { return Versions(models_dir, true); }

absl::StatusOr<int64_t> LatestBundle(const std::string& models_dir) {
  const std::vector<int64_t> versions = Versions(models_dir, false);
  if (versions.empty()) {
    return absl::NotFoundError(absl::StrCat("no model bundle under ", models_dir, "; run `vrec train-retrieval`"));
  }
  return versions.back();
}

absl::StatusOr<std::unique_ptr<retrieval::TwoTowerModel>> LoadBundleTwoTower(const std::string& bundle_dir,
                                                                             const BundleManifest& manifest,
                                                                             TwoTowerWeights which) {
  if (manifest.transform_version != featurestore::kTransformVersion) {
    return absl::FailedPreconditionError(absl::StrCat(
        "bundle ", bundle_dir, " was trained on feature transforms version ", manifest.transform_version,
        " and this build computes version ", featurestore::kTransformVersion,
        " (featurestore/transforms.h); train new models with vrec train-retrieval, build-index and train-ranker"));
  }
  std::string path = BundleModelPath(bundle_dir);
  std::error_code ec;
  if (which == TwoTowerWeights::kHeldOut && std::filesystem::exists(BundleHeldOutModelPath(bundle_dir), ec)) {
    path = BundleHeldOutModelPath(bundle_dir);
  }
  return retrieval::TwoTowerModel::Load(path, manifest.two_tower);
}

absl::StatusOr<std::shared_ptr<const ranking::RankerModel>> LoadBundleRanker(const std::string& bundle_dir,
                                                                             const BundleManifest& manifest) {
  if (!manifest.ranker.has_value()) return absl::NotFoundError(absl::StrCat("bundle ", bundle_dir, " has no ranker"));
  if (manifest.ranker->cross_features != ranking::kCrossFeatures) {
    return absl::FailedPreconditionError(
        absl::StrCat("bundle ", bundle_dir, ": its ranker takes ", manifest.ranker->cross_features,
                     " cross features and this build computes ", ranking::kCrossFeatures,
                     " (see ranking/cross_features.h); train a new ranker with vrec train-ranker"));
  }
  VREC_ASSIGN_OR_RETURN(std::unique_ptr<ranking::RankerModel> model,
                        ranking::RankerModel::Load(BundleRankerPath(bundle_dir), manifest.ranker->config));
  // A forward on an empty user and video must give probabilities.
  const featurestore::UserInputs user;
  const featurestore::VideoInputs video;
  const ranking::CrossInputs cross;
  float heads[ranking::kNumRankerHeads];
  VREC_RETURN_IF_ERROR(model->Score(user, absl::MakeConstSpan(&video, 1), absl::MakeConstSpan(&cross, 1), heads));
  for (float p : heads) {
    if (!(p >= 0.0f && p <= 1.0f)) {
      return absl::FailedPreconditionError(absl::StrCat("bundle ", bundle_dir, ": the ranker's output ", p,
                                                        " is not a probability"));
    }
  }
  return std::shared_ptr<const ranking::RankerModel>(std::move(model));
}

absl::StatusOr<std::shared_ptr<const retrieval::CollaborativeModel>> LoadBundleCollaborative(
    const std::string& bundle_dir, const BundleManifest& manifest) {
  if (!manifest.collaborative.has_value()) {
    return absl::NotFoundError(absl::StrCat("bundle ", bundle_dir, " has no collaborative tables"));
  }
  absl::StatusOr<std::shared_ptr<const retrieval::CollaborativeModel>> model =
      retrieval::LoadCollaborative(BundleCollabPath(bundle_dir));
  // The MANIFEST promises the file: missing is as bad as corrupt.
  if (absl::IsNotFound(model.status())) return absl::DataLossError(model.status().message());
  VREC_RETURN_IF_ERROR(model.status());
  const size_t rows = (*model)->tables[retrieval::kCollabEase].rows();
  if (static_cast<int64_t>(rows) > manifest.collaborative->ease_videos) {
    return absl::FailedPreconditionError(absl::StrCat("bundle ", bundle_dir, ": collab.bin has ", rows,
                                                      " EASE rows, the MANIFEST says at most ",
                                                      manifest.collaborative->ease_videos));
  }
  return model;
}

absl::StatusOr<std::shared_ptr<const ranking::FusionModel>> LoadBundleFusion(const std::string& bundle_dir,
                                                                             const BundleManifest& manifest) {
  if (!manifest.fusion.has_value() || !manifest.fusion->used) {
    return absl::NotFoundError(absl::StrCat("bundle ", bundle_dir, " has no fusion in use"));
  }
  VREC_ASSIGN_OR_RETURN(std::unique_ptr<ranking::FusionModel> model,
                        ranking::FusionModel::Load(BundleFusionPath(bundle_dir), manifest.fusion->hidden));
  if (manifest.fusion->order != "learned") {
    VREC_ASSIGN_OR_RETURN(const retrieval::SourceId lead, retrieval::ParseSourceName(manifest.fusion->order));
    model->LeadBy(lead);
  }
  return std::shared_ptr<const ranking::FusionModel>(std::move(model));
}

absl::StatusOr<std::shared_ptr<const Bundle>> LoadBundle(const std::string& models_dir, int64_t version) {
  auto bundle = std::make_shared<Bundle>();
  bundle->version = version;
  bundle->dir = BundleDir(models_dir, version);
  VREC_ASSIGN_OR_RETURN(bundle->manifest, ReadBundleManifest(bundle->dir));
  const BundleManifest& m = bundle->manifest;
  if (!m.complete || !m.index.has_value()) {
    return absl::FailedPreconditionError(
        absl::StrCat("bundle ", bundle->dir, " is incomplete (run `vrec build-index` on it)"));
  }
  // Every file against its MANIFEST digest before any parser reads it.
  std::vector<std::string> required = {"two_tower.pt", "items.bin", "hnsw.index"};
  if (m.ranker.has_value()) required.push_back("ranker.pt");
  if (m.collaborative.has_value()) required.push_back("collab.bin");
  if (m.fusion.has_value() && m.fusion->used) required.push_back("fusion.pt");
  VREC_RETURN_IF_ERROR(VerifyBundleFiles(bundle->dir, m, required));
  VREC_ASSIGN_OR_RETURN(bundle->two_tower, LoadBundleTwoTower(bundle->dir, m));
  VREC_ASSIGN_OR_RETURN(bundle->index, retrieval::HnswIndex::Load(BundleItemsPath(bundle->dir),
                                                                  BundleIndexPath(bundle->dir), m.index->ef_search));
  if (bundle->index->dim() != bundle->two_tower->dim() ||
      static_cast<int64_t>(bundle->index->size()) != m.index->items) {
    return absl::FailedPreconditionError(absl::StrCat(
        "bundle ", bundle->dir, " is inconsistent: the index holds ", bundle->index->size(), " items of dimension ",
        bundle->index->dim(), ", the MANIFEST says ", m.index->items, " and the model ", bundle->two_tower->dim()));
  }
  VREC_RETURN_IF_ERROR(SmokeSearch(*bundle->index, bundle->dir));
  // A forward pass on an empty user (a cold start): the pooled tower ends in an L2
  // normalisation; the sequential tower's output is unnormalised but must be finite.
  std::vector<float> out(bundle->two_tower->dim());
  const featurestore::UserInputs empty;
  VREC_RETURN_IF_ERROR(bundle->two_tower->EmbedUsers(absl::MakeConstSpan(&empty, 1), out.data()));
  double norm = 0;
  for (float x : out) norm += double{x} * x;
  const bool pooled = m.two_tower.user_tower == retrieval::UserTower::kPooled;
  if (!std::isfinite(norm) || (pooled && !(std::abs(norm - 1.0) < 1e-3))) {
    return absl::FailedPreconditionError(absl::StrCat("bundle ", bundle->dir, ": the ",
                                                      retrieval::UserTowerName(m.two_tower.user_tower),
                                                      " user tower's output has squared norm ", norm,
                                                      pooled ? ", not 1" : ""));
  }
  if (m.ranker.has_value()) {
    VREC_ASSIGN_OR_RETURN(bundle->ranker, LoadBundleRanker(bundle->dir, m));
  }
  if (m.collaborative.has_value()) {
    VREC_ASSIGN_OR_RETURN(bundle->collaborative, LoadBundleCollaborative(bundle->dir, m));
  }
  if (m.fusion.has_value() && m.fusion->used) {
    VREC_ASSIGN_OR_RETURN(bundle->fusion, LoadBundleFusion(bundle->dir, m));
  }
  return std::shared_ptr<const Bundle>(std::move(bundle));
}

}  // namespace vrec::bundle
