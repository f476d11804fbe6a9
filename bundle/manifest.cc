#include "bundle/manifest.h"

#include <cstdio>
#include <filesystem>
#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "common/crc32c.h"
#include "common/status.h"

namespace vrec::bundle {
namespace {

// Reads typed values out of a KeyValueFile, remembering the first problem.
class Reader {
 public:
  Reader(const KeyValueFile& file, std::string dir) : file_(file), dir_(std::move(dir)) {}

  template <typename T>
  void Int(const std::string& key, T* out) {
    if (!file_.Has(key)) {
      Fail(absl::InvalidArgumentError(absl::StrCat("missing key ", key)));
      return;
    }
    const absl::StatusOr<int64_t> v = file_.GetInt(key);
    if (v.ok()) {
      *out = static_cast<T>(*v);
    } else {
      Fail(absl::InvalidArgumentError(v.status().message()));
    }
  }
  // Reported numbers: absent or unreadable ones stay 0 (they inform, nothing depends on them).
  template <typename T>
  void OptionalInt(const std::string& key, T* out) {
    if (file_.Has(key)) Int(key, out);
  }
  void OptionalDouble(const std::string& key, double* out) {
    if (file_.Has(key) && !absl::SimpleAtod(file_.GetOr(key, ""), out)) {
      Fail(absl::InvalidArgumentError(absl::StrCat(key, " must be a number")));
    }
  }
  void Float(const std::string& key, float* out) {
    const std::string value = file_.GetOr(key, "");
    if (!absl::SimpleAtof(value, out)) Fail(absl::InvalidArgumentError(absl::StrCat(key, " must be a number, got '", value, "'")));
  }
  std::string String(const std::string& key) { return file_.GetOr(key, ""); }
  bool Has(const std::string& key) const { return file_.Has(key); }
  // The k and value of the one key "<prefix><k>", if any.
  void Suffixed(const std::string& prefix, int* k, double* value) {
    for (const auto& [key, v] : file_.entries()) {
      if (absl::StartsWith(key, prefix) && absl::SimpleAtoi(key.substr(prefix.size()), k)) {
        if (!absl::SimpleAtod(v, value)) Fail(absl::InvalidArgumentError(absl::StrCat(key, " must be a number")));
        return;
      }
    }
  }
  absl::Status status() const {
    if (status_.ok()) return status_;
    return absl::Status(status_.code(), absl::StrCat("bundle ", dir_, " MANIFEST: ", status_.message()));
  }

 private:
  void Fail(const absl::Status& s) {
    if (status_.ok()) status_ = s;
  }
  const KeyValueFile& file_;
  std::string dir_;
  absl::Status status_;
};

void ReadTransform(Reader& r, const std::string& prefix, featurestore::TransformOptions* t) {
  r.Int(prefix + "video_buckets", &t->video_buckets);
  r.Int(prefix + "category_buckets", &t->category_buckets);
  r.Int(prefix + "creator_buckets", &t->creator_buckets);
  r.Int(prefix + "tag_buckets", &t->tag_buckets);
  r.Int(prefix + "language_buckets", &t->language_buckets);
  r.Int(prefix + "country_buckets", &t->country_buckets);
}

void WriteTransform(const std::string& prefix, const featurestore::TransformOptions& t, KeyValueFile* m) {
  m->SetInt(prefix + "video_buckets", t.video_buckets);
  m->SetInt(prefix + "category_buckets", t.category_buckets);
  m->SetInt(prefix + "creator_buckets", t.creator_buckets);
  m->SetInt(prefix + "tag_buckets", t.tag_buckets);
  m->SetInt(prefix + "language_buckets", t.language_buckets);
  m->SetInt(prefix + "country_buckets", t.country_buckets);
}

std::string Fixed(double x, int digits) { return absl::StrFormat("%.*f", digits, x); }

}  // namespace

absl::StatusOr<BundleManifest> ParseBundleManifest(const KeyValueFile& file, const std::string& bundle_dir) {
  BundleManifest m;
  Reader r(file, bundle_dir);
  r.Int("format_version", &m.format_version);
  VREC_RETURN_IF_ERROR(r.status());
  if (m.format_version != kBundleFormatVersion) {
    return absl::FailedPreconditionError(absl::StrCat("bundle ", bundle_dir, " has format version ", m.format_version,
                                                      "; this build reads ", kBundleFormatVersion));
  }
  m.kind = r.String("kind");
  r.OptionalInt("version", &m.version);
  r.OptionalInt("created_ms", &m.created_ms);
  m.world = r.String("world");
  m.protocol = r.String("protocol");
  m.complete = r.String("complete") == "1";

  retrieval::TwoTowerConfig& c = m.two_tower;
  if (r.Has("model.user_tower")) {
    const absl::StatusOr<retrieval::UserTower> tower = retrieval::ParseUserTower(r.String("model.user_tower"));
    if (!tower.ok()) return absl::InvalidArgumentError(absl::StrCat("bundle ", bundle_dir, " MANIFEST: ", tower.status().message()));
    c.user_tower = *tower;
  }
  r.OptionalInt("model.sequence_layers", &c.sequence_layers);
  r.OptionalInt("model.sequence_heads", &c.sequence_heads);
  r.Int("model.embedding_dim", &c.embedding_dim);
  r.Int("model.id_dim", &c.id_dim);
  r.Int("model.category_dim", &c.category_dim);
  r.Int("model.hidden_dim", &c.hidden_dim);
  ReadTransform(r, "model.", &c.transform);
  r.OptionalInt("features.history_length", &m.history_length);
  m.transform_version = 1;  // bundles from before the key were trained on version 1
  r.OptionalInt("features.transform_version", &m.transform_version);

  RetrievalTraining& t = m.train;
  r.Int("train.end_ms", &t.end_ms);
  r.OptionalInt("train.start_ms", &t.start_ms);
  r.OptionalInt("train.validation_from_ms", &t.validation_from_ms);
  r.OptionalInt("train.examples", &t.examples);
  r.OptionalInt("train.validation_examples", &t.validation_examples);
  r.OptionalInt("train.epochs", &t.epochs);
  r.OptionalInt("train.batch_size", &t.batch_size);
  r.OptionalDouble("train.temperature", &t.temperature);
  t.logq_correction = r.String("train.logq_correction") == "1";
  r.OptionalInt("train.uniform_negatives", &t.uniform_negatives);
  r.OptionalInt("train.min_grade", &t.min_grade);
  r.OptionalInt("train.seed", &t.seed);
  r.OptionalDouble("train.examples_per_second", &t.examples_per_second);
  r.OptionalInt("train.exported_epoch", &t.exported_epoch);
  r.OptionalInt("train.refit_epochs", &t.refit_epochs);
  if (r.Has("train.refit")) t.refit = r.String("train.refit");
  r.Suffixed("train.validation_recall_at_", &t.validation_k, &t.validation_recall);
  t.full_softmax = r.String("train.full_softmax") == "1";
  r.OptionalDouble("train.pooled_validation_recall", &t.pooled_recall);
  r.OptionalDouble("train.sequential_validation_recall", &t.sequential_recall);

  if (r.Has("index.items")) {
    IndexInfo& i = m.index.emplace();
    r.Int("index.items", &i.items);
    r.Int("index.ef_search", &i.ef_search);
    r.OptionalInt("index.m", &i.m);
    r.OptionalInt("index.ef_construction", &i.ef_construction);
    r.Suffixed("index.recall_at_", &i.recall_k, &i.recall);
    r.OptionalInt("index.recall_queries", &i.recall_queries);
    r.OptionalDouble("index.build_seconds", &i.build_seconds);
    r.OptionalInt("index.features_as_of_ms", &i.features_as_of_ms);
  }

  if (r.Has("collab.ease_videos")) {
    retrieval::CollaborativeInfo& c = m.collaborative.emplace();
    r.Int("collab.ease_videos", &c.ease_videos);
    r.OptionalInt("collab.users", &c.users);
    r.OptionalInt("collab.engagements", &c.engagements);
    r.OptionalInt("collab.catalog_videos", &c.catalog_videos);
    r.OptionalInt("collab.ease_cap", &c.ease_cap);
    r.OptionalDouble("collab.ease_lambda", &c.ease_lambda);
    r.OptionalInt("collab.neighbours", &c.neighbours);
    r.OptionalInt("collab.transition_neighbours", &c.transition_neighbours);
    r.OptionalInt("collab.ease_dense_max", &c.ease_dense_max);
    r.OptionalDouble("collab.fit_seconds", &c.fit_seconds);
  }

  if (r.Has("fusion.used")) {
    FusionInfo& u = m.fusion.emplace();
    u.used = r.String("fusion.used") == "1";
    if (r.Has("fusion.order")) u.order = r.String("fusion.order");
    r.OptionalInt("fusion.hidden", &u.hidden);
    r.OptionalInt("fusion.train_queries", &u.train_queries);
    r.OptionalInt("fusion.validation_queries", &u.validation_queries);
    r.OptionalInt("fusion.epochs", &u.epochs);
    r.OptionalDouble("fusion.validation_ndcg_at_10", &u.validation_ndcg);
    r.OptionalDouble("fusion.ranker_ndcg_at_10", &u.ranker_ndcg);
    u.best_source = r.String("fusion.best_source");
    r.OptionalDouble("fusion.best_source_ndcg_at_10", &u.best_source_ndcg);
    r.OptionalDouble("fusion.candidate_recall", &u.candidate_recall);
    r.OptionalDouble("fusion.seconds", &u.seconds);
  }
  for (const auto& [key, value] : file.entries()) {
    if (!absl::StartsWith(key, "file.")) continue;
    const std::string name = key.substr(5);
    const std::vector<absl::string_view> parts = absl::StrSplit(value, ' ');
    FileDigest d;
    if (name.empty() || name.find('/') != std::string::npos || name == "." || name == ".." || parts.size() != 2 ||
        !absl::SimpleAtoi(parts[0], &d.bytes) || !absl::SimpleHexAtoi(parts[1], &d.crc32c)) {
      return absl::InvalidArgumentError(
          absl::StrCat("bundle ", bundle_dir, " MANIFEST: ", key, " must be '<bytes> <crc32c hex>', got '", value, "'"));
    }
    m.files[name] = d;
  }
  if (r.Has("rules.diversity")) {
    RulesInfo& u = m.rules.emplace();
    u.keep.diversity = r.String("rules.diversity") == "1";
    u.keep.freshness_boost = r.String("rules.freshness_boost") == "1";
    u.keep.exploration = r.String("rules.exploration") != "0";
    r.OptionalDouble("rules.all_rules_ndcg_at_10", &u.all_rules_ndcg);
    r.OptionalDouble("rules.validation_ndcg_at_10", &u.validation_ndcg);
  }

  if (r.Has("ranker.hidden_dim")) {
    RankerInfo& k = m.ranker.emplace();
    ranking::RankerConfig& rc = k.config;
    r.Int("ranker.id_dim", &rc.id_dim);
    r.Int("ranker.category_dim", &rc.category_dim);
    r.Int("ranker.hidden_dim", &rc.hidden_dim);
    r.Int("ranker.hidden2_dim", &rc.hidden2_dim);
    ReadTransform(r, "ranker.", &rc.transform);
    for (int h = 0; h < ranking::kNumRankerHeads; ++h)
      r.Float(absl::StrCat("ranker.weight.", ranking::RankerHeadName(h)), &rc.head_weights[h]);
    // Rankers from before the source signals have no such key: they took 8 cross features.
    k.cross_features = 8;
    r.OptionalInt("ranker.cross_features", &k.cross_features);
    r.OptionalInt("ranker.base_version", &k.base_version);
    r.OptionalInt("ranker.train.end_ms", &k.train_end_ms);
    r.OptionalInt("ranker.train.from_ms", &k.train_from_ms);
    r.OptionalInt("ranker.train.validation_from_ms", &k.validation_from_ms);
    r.OptionalInt("ranker.train.examples", &k.examples);
    r.OptionalInt("ranker.train.validation_examples", &k.validation_examples);
    r.OptionalInt("ranker.train.epochs", &k.epochs);
    r.OptionalInt("ranker.train.exported_epoch", &k.exported_epoch);
    r.OptionalInt("ranker.train.seed", &k.seed);
    r.OptionalDouble("ranker.train.examples_per_second", &k.examples_per_second);
    for (int h = 0; h < ranking::kNumRankerHeads; ++h) {
      r.OptionalDouble(absl::StrCat("ranker.validation.auc.", ranking::RankerHeadName(h)), &k.validation_auc[h]);
      r.OptionalDouble(absl::StrCat("ranker.validation.log_loss.", ranking::RankerHeadName(h)),
                       &k.validation_log_loss[h]);
    }
    r.OptionalDouble("ranker.validation.slate_ndcg_at_10", &k.validation_slate_ndcg);
    r.OptionalDouble("ranker.validation.logged_slate_ndcg_at_10", &k.logged_slate_ndcg);
    const std::string examples = r.String("ranker.examples");
    if (absl::StartsWith(examples, "engagements+")) {
      k.from_engagements = true;
      (void)absl::SimpleAtoi(examples.substr(12, examples.find('_') - 12), &k.sampled_negatives);
    }
  }
  VREC_RETURN_IF_ERROR(r.status());
  if (absl::Status s = c.Validate(); !s.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("bundle ", bundle_dir, " MANIFEST: two-tower config: ", s.message()));
  }
  if (m.ranker.has_value()) {
    if (absl::Status s = m.ranker->config.Validate(); !s.ok()) {
      return absl::InvalidArgumentError(absl::StrCat("bundle ", bundle_dir, " MANIFEST: ranker config: ", s.message()));
    }
  }
  return m;
}

ranking::RuleChoice KeptRules(const BundleManifest& manifest) {
  return manifest.rules.has_value() ? manifest.rules->keep : ranking::RuleChoice();
}

KeyValueFile FormatBundleManifest(const BundleManifest& m) {
  KeyValueFile f;
  for (const auto& [name, d] : m.files) {
    f.Set(absl::StrCat("file.", name), absl::StrFormat("%llu %08x", static_cast<unsigned long long>(d.bytes), d.crc32c));
  }
  f.SetInt("format_version", m.format_version);
  f.Set("kind", m.kind);
  f.SetInt("version", m.version);
  f.SetInt("created_ms", m.created_ms);
  f.Set("world", m.world);
  f.Set("protocol", m.protocol);
  f.Set("complete", m.complete ? "1" : "0");
  const retrieval::TwoTowerConfig& c = m.two_tower;
  f.Set("model.user_tower", retrieval::UserTowerName(c.user_tower));
  if (c.user_tower == retrieval::UserTower::kSequential) {
    f.SetInt("model.sequence_layers", c.sequence_layers);
    f.SetInt("model.sequence_heads", c.sequence_heads);
  }
  f.SetInt("model.embedding_dim", c.embedding_dim);
  f.SetInt("model.id_dim", c.id_dim);
  f.SetInt("model.category_dim", c.category_dim);
  f.SetInt("model.hidden_dim", c.hidden_dim);
  WriteTransform("model.", c.transform, &f);
  f.SetInt("features.history_length", m.history_length);
  f.SetInt("features.transform_version", m.transform_version);
  const RetrievalTraining& t = m.train;
  f.SetInt("train.start_ms", t.start_ms);
  f.SetInt("train.end_ms", t.end_ms);
  f.SetInt("train.validation_from_ms", t.validation_from_ms);
  f.SetInt("train.examples", t.examples);
  f.SetInt("train.validation_examples", t.validation_examples);
  f.SetInt("train.epochs", t.epochs);
  f.SetInt("train.batch_size", t.batch_size);
  f.Set("train.temperature", absl::StrCat(t.temperature));
  f.Set("train.logq_correction", t.logq_correction ? "1" : "0");
  f.SetInt("train.uniform_negatives", t.uniform_negatives);
  f.SetInt("train.min_grade", t.min_grade);
  f.SetInt("train.seed", static_cast<int64_t>(t.seed));
  f.Set("train.examples_per_second", Fixed(t.examples_per_second, 0));
  f.SetInt("train.exported_epoch", t.exported_epoch);
  f.Set("train.refit", t.refit);
  f.SetInt("train.refit_epochs", t.refit_epochs);
  if (t.validation_k > 0) f.Set(absl::StrCat("train.validation_recall_at_", t.validation_k), Fixed(t.validation_recall, 4));
  f.Set("train.full_softmax", t.full_softmax ? "1" : "0");
  if (t.pooled_recall >= 0) f.Set("train.pooled_validation_recall", Fixed(t.pooled_recall, 4));
  if (t.sequential_recall >= 0) f.Set("train.sequential_validation_recall", Fixed(t.sequential_recall, 4));
  if (m.index.has_value()) {
    const IndexInfo& i = *m.index;
    f.SetInt("index.items", i.items);
    f.SetInt("index.m", i.m);
    f.SetInt("index.ef_construction", i.ef_construction);
    f.SetInt("index.ef_search", i.ef_search);
    if (i.recall_k > 0) f.Set(absl::StrCat("index.recall_at_", i.recall_k), Fixed(i.recall, 4));
    f.SetInt("index.recall_queries", i.recall_queries);
    f.Set("index.build_seconds", Fixed(i.build_seconds, 1));
    f.SetInt("index.features_as_of_ms", i.features_as_of_ms);
  }
  if (m.collaborative.has_value()) {
    const retrieval::CollaborativeInfo& c = *m.collaborative;
    f.SetInt("collab.users", c.users);
    f.SetInt("collab.engagements", c.engagements);
    f.SetInt("collab.catalog_videos", c.catalog_videos);
    f.SetInt("collab.ease_videos", c.ease_videos);
    f.SetInt("collab.ease_cap", c.ease_cap);
    f.Set("collab.ease_lambda", absl::StrCat(c.ease_lambda));
    f.SetInt("collab.neighbours", c.neighbours);
    f.SetInt("collab.transition_neighbours", c.transition_neighbours);
    f.SetInt("collab.ease_dense_max", c.ease_dense_max);
    f.SetInt("collab.ease_dense", c.ease_dense() ? 1 : 0);  // for the reader; derived, not parsed
    f.Set("collab.fit_seconds", Fixed(c.fit_seconds, 1));
  }
  if (m.fusion.has_value()) {
    const FusionInfo& u = *m.fusion;
    f.Set("fusion.used", u.used ? "1" : "0");
    f.Set("fusion.order", u.order);
    f.SetInt("fusion.hidden", u.hidden);
    f.SetInt("fusion.train_queries", u.train_queries);
    f.SetInt("fusion.validation_queries", u.validation_queries);
    f.SetInt("fusion.epochs", u.epochs);
    f.Set("fusion.validation_ndcg_at_10", Fixed(u.validation_ndcg, 4));
    f.Set("fusion.ranker_ndcg_at_10", Fixed(u.ranker_ndcg, 4));
    f.Set("fusion.best_source", u.best_source);
    f.Set("fusion.best_source_ndcg_at_10", Fixed(u.best_source_ndcg, 4));
    f.Set("fusion.candidate_recall", Fixed(u.candidate_recall, 4));
    f.Set("fusion.seconds", Fixed(u.seconds, 1));
  }
  if (m.rules.has_value()) {
    const RulesInfo& u = *m.rules;
    f.Set("rules.diversity", u.keep.diversity ? "1" : "0");
    f.Set("rules.freshness_boost", u.keep.freshness_boost ? "1" : "0");
    f.Set("rules.exploration", u.keep.exploration ? "1" : "0");
    f.Set("rules.all_rules_ndcg_at_10", Fixed(u.all_rules_ndcg, 4));
    f.Set("rules.validation_ndcg_at_10", Fixed(u.validation_ndcg, 4));
  }
  if (m.ranker.has_value()) {
    const RankerInfo& k = *m.ranker;
    const ranking::RankerConfig& rc = k.config;
    f.SetInt("ranker.id_dim", rc.id_dim);
    f.SetInt("ranker.category_dim", rc.category_dim);
    f.SetInt("ranker.hidden_dim", rc.hidden_dim);
    f.SetInt("ranker.hidden2_dim", rc.hidden2_dim);
    f.SetInt("ranker.cross_features", k.cross_features);
    WriteTransform("ranker.", rc.transform, &f);
    for (int h = 0; h < ranking::kNumRankerHeads; ++h) {
      f.Set(absl::StrCat("ranker.weight.", ranking::RankerHeadName(h)), absl::StrFormat("%g", rc.head_weights[h]));
    }
    f.SetInt("ranker.base_version", k.base_version);
    f.SetInt("ranker.train.end_ms", k.train_end_ms);
    f.SetInt("ranker.train.from_ms", k.train_from_ms);
    f.SetInt("ranker.train.validation_from_ms", k.validation_from_ms);
    f.SetInt("ranker.train.examples", k.examples);
    f.SetInt("ranker.train.validation_examples", k.validation_examples);
    f.SetInt("ranker.train.epochs", k.epochs);
    f.SetInt("ranker.train.exported_epoch", k.exported_epoch);
    f.SetInt("ranker.train.seed", static_cast<int64_t>(k.seed));
    f.Set("ranker.train.examples_per_second", Fixed(k.examples_per_second, 0));
    for (int h = 0; h < ranking::kNumRankerHeads; ++h) {
      f.Set(absl::StrCat("ranker.validation.auc.", ranking::RankerHeadName(h)), Fixed(k.validation_auc[h], 4));
      f.Set(absl::StrCat("ranker.validation.log_loss.", ranking::RankerHeadName(h)),
            Fixed(k.validation_log_loss[h], 4));
    }
    f.Set("ranker.validation.slate_ndcg_at_10", Fixed(k.validation_slate_ndcg, 4));
    if (k.from_engagements) {
      f.Set("ranker.examples", absl::StrCat("engagements+", k.sampled_negatives, "_sampled"));
    } else {
      f.Set("ranker.validation.logged_slate_ndcg_at_10", Fixed(k.logged_slate_ndcg, 4));
    }
  }
  return f;
}

absl::StatusOr<BundleManifest> ReadBundleManifest(const std::string& bundle_dir) {
  const std::string path = bundle_dir + "/MANIFEST";
  if (!PathExists(path)) return absl::NotFoundError(absl::StrCat("no model bundle at ", bundle_dir, " (no MANIFEST)"));
  VREC_ASSIGN_OR_RETURN(const KeyValueFile file, KeyValueFile::Read(path));
  return ParseBundleManifest(file, bundle_dir);
}

absl::Status WriteBundleManifest(const std::string& bundle_dir, const BundleManifest& manifest) {
  BundleManifest m = manifest;
  m.files.clear();
  std::error_code ec;
  std::filesystem::directory_iterator it(bundle_dir, ec);
  for (const std::filesystem::directory_iterator end; !ec && it != end; it.increment(ec)) {
    const std::string name = it->path().filename().string();
    std::error_code entry_ec;
    if (name == "MANIFEST" || absl::StartsWith(name, "MANIFEST") || !it->is_regular_file(entry_ec) || entry_ec) {
      continue;
    }
    VREC_ASSIGN_OR_RETURN(m.files[name], DigestFile(it->path().string()));
  }
  if (ec) return absl::InternalError(absl::StrCat("cannot list ", bundle_dir, ": ", ec.message()));
  return FormatBundleManifest(m).Write(bundle_dir + "/MANIFEST");
}

absl::StatusOr<FileDigest> DigestFile(const std::string& path) {
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (f == nullptr) return absl::NotFoundError(absl::StrCat("cannot open ", path));
  FileDigest d;
  std::vector<char> block(1 << 20);
  size_t n;
  while ((n = std::fread(block.data(), 1, block.size(), f)) > 0) {
    d.crc32c = Crc32c(block.data(), n, d.crc32c);
    d.bytes += n;
  }
  const bool failed = std::ferror(f) != 0;
  std::fclose(f);
  if (failed) return absl::DataLossError(absl::StrCat("cannot read ", path));
  return d;
}

absl::Status VerifyBundleFiles(const std::string& bundle_dir, const BundleManifest& manifest,
                               const std::vector<std::string>& required) {
  if (manifest.files.empty()) return absl::OkStatus();
  for (const std::string& name : required) {
    if (manifest.files.count(name) == 0) {
      return absl::DataLossError(absl::StrCat("bundle ", bundle_dir, ": ", name, " is not in its MANIFEST"));
    }
  }
  for (const auto& [name, want] : manifest.files) {
    absl::StatusOr<FileDigest> got = DigestFile(bundle_dir + "/" + name);
    if (!got.ok()) {
      return absl::DataLossError(absl::StrCat("bundle ", bundle_dir, ": ", name, ": ", got.status().message()));
    }
    if (!(*got == want)) {
      return absl::DataLossError(absl::StrFormat(
          "bundle %s: %s does not match its MANIFEST (%llu bytes, CRC-32C %08x; the MANIFEST says %llu bytes, %08x): "
          "corrupt or changed after it was written",
          bundle_dir, name, static_cast<unsigned long long>(got->bytes), got->crc32c,
          static_cast<unsigned long long>(want.bytes), want.crc32c));
    }
  }
  return absl::OkStatus();
}

}  // namespace vrec::bundle
