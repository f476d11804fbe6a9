// The MANIFEST of a model bundle, typed. Every key of the file is named in manifest.cc and
// nowhere else: the trainers fill a BundleManifest, build-index completes it, loaders read it.
//
// The file is the key=value text of common/world.h (KeyValueFile), so it stays readable with
// `cat` and bundles written by earlier builds load unchanged. Sections:
//   (top)      format_version, kind, version, created_ms, world, protocol, complete
//   model.*    the two-tower config            train.*     how the two-tower was trained
//   features.* the feature options it used     index.*     the HNSW index (build-index)
//   ranker.*   the ranker's config, training window and validation metrics (train-ranker)
//   collab.*   the collaborative tables (build-index; retrieval/collaborative_fit.h)
//   fusion.*   the learned fusion and its validation against the ranker and single sources
//   file.*     every file of the bundle: its size and CRC-32C (file.<name>=<bytes> <crc32c hex>)
#ifndef VREC_BUNDLE_MANIFEST_H_
#define VREC_BUNDLE_MANIFEST_H_

#include <array>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "common/types.h"
#include "common/world.h"
#include "featurestore/transforms.h"
#include "ranking/ranker.h"
#include "ranking/reranker.h"
#include "retrieval/collaborative.h"
#include "retrieval/two_tower.h"

namespace vrec::bundle {

inline constexpr int kBundleFormatVersion = 1;

// How the two-tower model was trained (train-retrieval).
struct RetrievalTraining {
  TimestampMs start_ms = 0;
  TimestampMs end_ms = 0;             // trained on events before this
  TimestampMs validation_from_ms = 0;
  int64_t examples = 0;
  int64_t validation_examples = 0;
  int epochs = 0;
  int batch_size = 0;
  double temperature = 0;
  bool logq_correction = false;
  int uniform_negatives = 0;
  int min_grade = 0;
  uint64_t seed = 0;
  double examples_per_second = 0;
  int exported_epoch = 0;             // the validated epoch (of the held-out model)
  std::string refit = "none";         // two_tower.pt: "scratch" or "tail" refit on all the data, or "none"
  int refit_epochs = 0;               // the refit's epochs
  int validation_k = 0;               // validation Recall@k of the exported epoch
  double validation_recall = 0;
  bool full_softmax = false;          // the exported tower trained on a full softmax over the catalog
  double pooled_recall = -1;          // each user tower's best validation recall (-1: not trained)
  double sequential_recall = -1;
};

// The HNSW index (build-index).
struct IndexInfo {
  int64_t items = 0;
  int m = 0;
  int ef_construction = 0;
  int ef_search = 0;
  int recall_k = 0;                   // measured recall@k against exact search
  double recall = 0;
  int64_t recall_queries = 0;
  double build_seconds = 0;
  TimestampMs features_as_of_ms = 0;  // the time the item features were read as of
};

// The ranker (train-ranker).
struct RankerInfo {
  ranking::RankerConfig config;       // with the serving head weights
  int cross_features = 0;             // kCrossFeatures of the build that trained it
  int64_t base_version = 0;           // the retrieval bundle it was trained on
  TimestampMs train_end_ms = 0;
  TimestampMs train_from_ms = 0;
  TimestampMs validation_from_ms = 0;
  int64_t examples = 0;
  int64_t validation_examples = 0;
  int epochs = 0;
  int exported_epoch = 0;
  uint64_t seed = 0;
  double examples_per_second = 0;
  std::array<double, ranking::kNumRankerHeads> validation_auc{};
  std::array<double, ranking::kNumRankerHeads> validation_log_loss{};
  double validation_slate_ndcg = 0;   // NDCG@10 of the validation slates
  bool from_engagements = false;      // trained on engagements against sampled videos (no impressions)
  int sampled_negatives = 0;          // with from_engagements
  double logged_slate_ndcg = 0;       // the logged order's NDCG@10 on the same slates (impressions only)
};

// The learned fusion (train-ranker; training/fusion_trainer.h), validated on held-out next
// engagements against the ranker's order and every single source's.
struct FusionInfo {
  bool used = false;                 // fusion.pt is in the bundle and orders the feed
  // "learned" (it won), or the best single source's name: the learned fusion lost to that
  // source, which beat the ranker, so fusion.pt is the fixed net ordering by it.
  std::string order = "learned";
  int hidden = 0;
  int64_t train_queries = 0;         // held-out engagements found among the candidates
  int64_t validation_queries = 0;    // all held-out queries (each validated once, cross-fitted)
  int epochs = 0;                    // chosen by the cross-fitted validation, then refit on all
  double validation_ndcg = 0;        // cross-fitted NDCG@10 of the fusion's order
  double ranker_ndcg = 0;            // the ranker's order (0 without a ranker)
  std::string best_source;           // the best single source's name
  double best_source_ndcg = 0;       // and its NDCG@10
  double candidate_recall = 0;       // share of held-out engagements among the candidates
  double seconds = 0;
};

// The re-ranking rules measured on the fusion's validation queries (train-ranker).
struct RulesInfo {
  ranking::RuleChoice keep;          // the rules the feed applies
  double all_rules_ndcg = 0;         // validation NDCG@10 of the feed with every rule
  double validation_ndcg = 0;        // with the kept ones only
};

// A bundle file's size and CRC-32C.
struct FileDigest {
  uint64_t bytes = 0;
  uint32_t crc32c = 0;
  bool operator==(const FileDigest& o) const { return bytes == o.bytes && crc32c == o.crc32c; }
};

struct BundleManifest {
  int format_version = kBundleFormatVersion;
  std::string kind;                   // "two_tower" or "two_tower+ranker"
  int64_t version = 0;
  TimestampMs created_ms = 0;
  std::string world;                  // the world directory it was trained on
  std::string protocol;               // "time-split", "leave-last-out" or "random"
  bool complete = false;              // the index is built: the bundle can serve
  retrieval::TwoTowerConfig two_tower;
  uint32_t history_length = 100;      // FeatureUpdateOptions::history_length of its features
  int transform_version = featurestore::kTransformVersion;  // the feature transforms it was trained on
  RetrievalTraining train;
  std::optional<IndexInfo> index;
  std::optional<RankerInfo> ranker;
  std::optional<retrieval::CollaborativeInfo> collaborative;  // collab.bin is in the bundle
  std::optional<FusionInfo> fusion;   // a fusion was trained (used or not)
  std::optional<RulesInfo> rules;     // absent: every rule applies
  // By file name: every regular file at the top of the bundle folder but the MANIFEST (links
  // followed), as WriteBundleManifest found them. Empty in bundles from before digests.
  std::map<std::string, FileDigest> files;
};

// The re-ranking rules a bundle keeps: its measured choice, or every rule without one.
ranking::RuleChoice KeptRules(const BundleManifest& manifest);

// Parses the key=value entries. InvalidArgument naming a missing or malformed key;
// FailedPrecondition for another format version.
absl::StatusOr<BundleManifest> ParseBundleManifest(const KeyValueFile& file, const std::string& bundle_dir);
KeyValueFile FormatBundleManifest(const BundleManifest& manifest);

// <bundle_dir>/MANIFEST. Read: NotFound when absent, else as ParseBundleManifest. Write:
// atomically (temporary file and rename), with `files` replaced by the digests of the files the
// folder holds now (write the MANIFEST after the files it describes).
absl::StatusOr<BundleManifest> ReadBundleManifest(const std::string& bundle_dir);
[[nodiscard]] absl::Status WriteBundleManifest(const std::string& bundle_dir, const BundleManifest& manifest);

// The size and CRC-32C of the file at `path` (read in 1 MiB blocks). NotFound when absent.
absl::StatusOr<FileDigest> DigestFile(const std::string& path);
// Checks every file the MANIFEST lists against its digest, and that each of `required` is
// listed. DataLoss naming the first file that is missing, of another size or another CRC.
// A MANIFEST without digests (an older bundle) passes.
[[nodiscard]] absl::Status VerifyBundleFiles(const std::string& bundle_dir, const BundleManifest& manifest,
                                             const std::vector<std::string>& required);

}  // namespace vrec::bundle

#endif  // VREC_BUNDLE_MANIFEST_H_
