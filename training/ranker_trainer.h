// `vrec train-ranker`: trains the deep ranker (ranking/ranker.h) on logged impressions and
// exports it, together with the retrieval model and index it was trained against, as a new
// model bundle version.
//
// Examples are the logged impressions (events with a request id) before the base bundle's
// training end, with the user's features as they were just before the request (one snapshot
// per slate, as the server reads them) and the video's as they were just before the
// impression. Labels come from the same request's later events: click (any engagement),
// watch >= 50% (a long watch, RelevanceGrade >= 2) and like (like or share); an impression
// without engagement is a negative for every head. The retrieval-score cross feature is the
// base bundle's two-tower inner product on those same point-in-time features.
//
// Validation (the last validation_fraction of the window, whole slates): AUC and log-loss per
// head, and NDCG@10 of the ranker's order of each logged slate (graded: click 1, long watch 2,
// like or share 3) next to the logged order. The exported epoch is the one with the best
// validation NDCG (keep_best) or the last.
#ifndef VREC_TRAINING_RANKER_TRAINER_H_
#define VREC_TRAINING_RANKER_TRAINER_H_

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "common/event_log.h"
#include "common/types.h"
#include "featurestore/features.h"
#include "bundle/manifest.h"
#include "ranking/ranker.h"
#include "training/fusion_trainer.h"

namespace vrec::training {

struct RankerTrainOptions {
  int64_t base_version = 0;     // retrieval bundle to build on; 0: the newest complete one
  // Train on impressions before until_ms (0: the base bundle's train.end_ms), validating on
  // the last validation_fraction of the window.
  TimestampMs until_ms = 0;
  double validation_fraction = 0.1;
  uint64_t max_examples = 2000000;  // most recent training impressions kept (0: all)
  uint64_t max_validation = 200000;  // validation impressions kept, from the window's start (0: all)
  // Videos sampled uniformly from the catalog per training slate as extra negatives (not
  // shown, so not engaged): without them the ranker only ever sees what the logging policy
  // chose and extrapolates wildly on the long-tail candidates retrieval brings. They get no
  // position-bias offset. Validation uses real slates only.
  int sampled_negatives = 10;
  double retrieval_dropout = 0.05;  // share of examples trained without the retrieval score
                                    // (the server has none for videos the index lacks)
  int epochs = 1;                  // more overfit the id embeddings on the default world
  int batch_size = 512;
  double learning_rate = 1e-3;         // Adam, dense layers
  double sparse_learning_rate = 0.05;  // Adagrad, embedding tables
  uint64_t seed = 1;
  int threads = 2;
  bool keep_best = true;
  ranking::RankerConfig model;  // transform buckets are taken from the base bundle
  featurestore::FeatureUpdateOptions update;
  // Then train the learned fusion on held-out engagements (training/fusion_trainer.h).
  bool fusion = true;
  FusionTrainOptions fusion_options;
  bool show_progress = true;
};

struct RankerHeadMetrics {
  double auc = 0;
  double log_loss = 0;
  double positive_rate = 0;
};

struct RankerEpochMetrics {
  double loss = 0;  // mean training loss (sum over heads)
  std::array<RankerHeadMetrics, ranking::kNumRankerHeads> heads;
  double slate_ndcg = 0;  // NDCG@10 of the ranker's order of the validation slates
};

struct RankerTrainSummary {
  std::string bundle_dir;
  int64_t version = 0;
  int64_t base_version = 0;
  uint64_t train_examples = 0, validation_examples = 0, validation_slates = 0;
  std::vector<RankerEpochMetrics> epochs;
  int exported_epoch = 0;
  double logged_slate_ndcg = 0;  // NDCG@10 of the logged order of the same slates
  std::optional<bundle::FusionInfo> fusion;  // when the fusion was trained
  // The log had no impressions: examples are engagements against sampled catalog videos, the
  // engagement heads see positives only, and there is no logged order to compare with.
  bool from_engagements = false;
  double examples_per_second = 0;
  double train_seconds = 0;
  TimestampMs train_end_ms = 0;
};

// Trains on the world's log against the base bundle in `models_dir` and writes
// <models_dir>/<next version>/ (complete, with the base's retrieval files linked in).
// A log without impressions with request ids (public datasets) trains on engagements against
// sampled catalog videos instead. FailedPrecondition when there is no complete base bundle.
absl::StatusOr<RankerTrainSummary> TrainRanker(const std::string& world_dir, const std::string& models_dir,
                                               const RankerTrainOptions& options);

// Slate replay: the logged slates shown in [from_ms, until_ms) — impression events with a
// request id in the world's log, plus `served` (impressions from the server's impression log,
// sorted by time) — re-ranked by a bundle's ranker with the same point-in-time examples as
// training (features as of each request, the bundle's two-tower retrieval score), labelled by
// the same request's engagement in the log.
struct SlateReplayOptions {
  TimestampMs from_ms = 0;
  TimestampMs until_ms = 0;           // 0: the end of the log
  uint64_t max_impressions = 200000;  // whole slates, from from_ms on (0: all)
  std::vector<Event> served;
  bool show_progress = true;
};

struct SlateReplayResult {
  uint64_t slates = 0;             // slates with any engagement (the ones NDCG is over)
  uint64_t impressions = 0;
  RankerEpochMetrics metrics;      // per-head AUC and log-loss, and the ranker's slate NDCG@10
  double logged_ndcg = 0;          // NDCG@10 of the order the slates were shown in
};

// NotFound when the bundle has no ranker.
absl::StatusOr<SlateReplayResult> ReplayRankerOnSlates(const std::string& world_dir, const std::string& bundle_dir,
                                                       const SlateReplayOptions& options);

}  // namespace vrec::training

#endif  // VREC_TRAINING_RANKER_TRAINER_H_
