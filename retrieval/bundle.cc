#include "retrieval/bundle.h"

#include <cmath>
#include <filesystem>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "common/status.h"

namespace vrec {
namespace {

// Versions present under `models_dir`, ascending; `complete_only` keeps complete bundles.
std::vector<int64_t> Versions(const std::string& models_dir, bool complete_only) {
  std::vector<int64_t> out;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(models_dir, ec)) {
    int64_t v;
    if (!entry.is_directory() || !absl::SimpleAtoi(entry.path().filename().string(), &v) || v <= 0) continue;
    absl::StatusOr<KeyValueFile> m = KeyValueFile::Read(BundleManifestPath(entry.path().string()));
    if (!m.ok()) continue;
    if (complete_only && m->GetOr("complete", "0") != "1") continue;
    out.push_back(v);
  }
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace

std::string BundleDir(const std::string& models_dir, int64_t version) {
  return absl::StrCat(models_dir, "/", version);
}
std::string BundleManifestPath(const std::string& d) { return d + "/MANIFEST"; }
std::string BundleModelPath(const std::string& d) { return d + "/two_tower.pt"; }
std::string BundleItemsPath(const std::string& d) { return d + "/items.bin"; }
std::string BundleIndexPath(const std::string& d) { return d + "/hnsw.index"; }

absl::StatusOr<int64_t> NextBundleVersion(const std::string& models_dir) {
  VREC_RETURN_IF_ERROR(MakeDirs(models_dir));
  int64_t highest = 0;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(models_dir, ec)) {
    int64_t v;
    if (entry.is_directory() && absl::SimpleAtoi(entry.path().filename().string(), &v)) highest = std::max(highest, v);
  }
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

absl::StatusOr<int64_t> LatestBundle(const std::string& models_dir) {
  const std::vector<int64_t> versions = Versions(models_dir, false);
  if (versions.empty()) {
    return absl::NotFoundError(absl::StrCat("no model bundle under ", models_dir, "; run `vrec train-retrieval`"));
  }
  return versions.back();
}

void WriteModelConfig(const TwoTowerConfig& c, KeyValueFile* m) {
  m->SetInt("model.embedding_dim", c.embedding_dim);
  m->SetInt("model.id_dim", c.id_dim);
  m->SetInt("model.category_dim", c.category_dim);
  m->SetInt("model.hidden_dim", c.hidden_dim);
  const TransformOptions& t = c.transform;
  m->SetInt("model.video_buckets", t.video_buckets);
  m->SetInt("model.category_buckets", t.category_buckets);
  m->SetInt("model.creator_buckets", t.creator_buckets);
  m->SetInt("model.tag_buckets", t.tag_buckets);
  m->SetInt("model.language_buckets", t.language_buckets);
  m->SetInt("model.country_buckets", t.country_buckets);
}

absl::StatusOr<TwoTowerConfig> ReadModelConfig(const KeyValueFile& m) {
  TwoTowerConfig c;
  std::pair<const char*, int*> ints[] = {{"model.embedding_dim", &c.embedding_dim}, {"model.id_dim", &c.id_dim},
                                         {"model.category_dim", &c.category_dim}, {"model.hidden_dim", &c.hidden_dim}};
  for (auto& [key, target] : ints) {
    VREC_ASSIGN_OR_RETURN(int64_t v, m.GetInt(key));
    *target = static_cast<int>(v);
  }
  TransformOptions& t = c.transform;
  std::pair<const char*, uint32_t*> buckets[] = {
      {"model.video_buckets", &t.video_buckets},       {"model.category_buckets", &t.category_buckets},
      {"model.creator_buckets", &t.creator_buckets},   {"model.tag_buckets", &t.tag_buckets},
      {"model.language_buckets", &t.language_buckets}, {"model.country_buckets", &t.country_buckets}};
  for (auto& [key, target] : buckets) {
    VREC_ASSIGN_OR_RETURN(int64_t v, m.GetInt(key));
    *target = static_cast<uint32_t>(v);
  }
  VREC_RETURN_IF_ERROR(c.Validate());
  return c;
}

absl::StatusOr<KeyValueFile> ReadBundleManifest(const std::string& bundle_dir) {
  if (!PathExists(BundleManifestPath(bundle_dir))) {
    return absl::NotFoundError(absl::StrCat("no model bundle at ", bundle_dir, " (no MANIFEST)"));
  }
  VREC_ASSIGN_OR_RETURN(KeyValueFile m, KeyValueFile::Read(BundleManifestPath(bundle_dir)));
  VREC_ASSIGN_OR_RETURN(int64_t version, m.GetInt("format_version"));
  if (version != kBundleFormatVersion) {
    return absl::FailedPreconditionError(absl::StrCat("bundle ", bundle_dir, " has format version ", version,
                                                      "; this build reads ", kBundleFormatVersion));
  }
  return m;
}

absl::StatusOr<std::shared_ptr<const RetrievalBundle>> LoadRetrievalBundle(const std::string& models_dir,
                                                                           int64_t version) {
  auto bundle = std::make_shared<RetrievalBundle>();
  bundle->version = version;
  bundle->dir = BundleDir(models_dir, version);
  VREC_ASSIGN_OR_RETURN(bundle->manifest, ReadBundleManifest(bundle->dir));
  const KeyValueFile& m = bundle->manifest;
  if (m.GetOr("complete", "0") != "1") {
    return absl::FailedPreconditionError(
        absl::StrCat("bundle ", bundle->dir, " is incomplete (run `vrec build-index` on it)"));
  }
  VREC_ASSIGN_OR_RETURN(const TwoTowerConfig config, ReadModelConfig(m));
  VREC_ASSIGN_OR_RETURN(const int64_t ef_search, m.GetInt("index.ef_search"));
  VREC_ASSIGN_OR_RETURN(const int64_t items, m.GetInt("index.items"));
  VREC_ASSIGN_OR_RETURN(bundle->model, TwoTowerModel::Load(BundleModelPath(bundle->dir), config));
  VREC_ASSIGN_OR_RETURN(bundle->index, HnswIndex::Load(BundleItemsPath(bundle->dir), BundleIndexPath(bundle->dir),
                                                       static_cast<int>(ef_search)));
  if (bundle->index->dim() != bundle->model->dim() || static_cast<int64_t>(bundle->index->size()) != items) {
    return absl::FailedPreconditionError(absl::StrCat(
        "bundle ", bundle->dir, " is inconsistent: the index holds ", bundle->index->size(), " items of dimension ",
        bundle->index->dim(), ", the MANIFEST says ", items, " and the model ", bundle->model->dim()));
  }
  // A forward pass on an empty user: the towers end in an L2 normalisation.
  std::vector<float> out(bundle->model->dim());
  const UserInputs empty;
  VREC_RETURN_IF_ERROR(bundle->model->EmbedUsers(absl::MakeConstSpan(&empty, 1), out.data()));
  double norm = 0;
  for (float x : out) norm += double{x} * x;
  if (!(std::abs(norm - 1.0) < 1e-3)) {
    return absl::FailedPreconditionError(
        absl::StrCat("bundle ", bundle->dir, ": the user tower's output has squared norm ", norm, ", not 1"));
  }
  return std::shared_ptr<const RetrievalBundle>(std::move(bundle));
}

}  // namespace vrec
