// `vrec train-retrieval`: trains the two-tower model on point-in-time examples and exports a
// model bundle (retrieval/bundle.h) for build-index to complete.
//
// Two user towers (retrieval/two_tower.h) train on the same examples: the pooled one and the
// sequential (SASRec-style) one. By default both are trained and the one with the better
// validation recall is exported; the MANIFEST records the choice and both recalls.
//
// Examples are positive engagements (by default relevance grade >= 2: a long watch, a like or a
// share) with the user's and the video's features as they were just before the event. The
// loss is an in-batch sampled softmax over the batch's videos (plus optional uniformly sampled
// extra negatives) with temperature, logQ correction for the popularity-proportional sampling of
// in-batch negatives, and removal of accidental hits (the same video elsewhere in the batch).
// Validation Recall@K is measured each epoch on a later time window (or, with leave-last-out, on
// each user's second-to-last item) against every video, exactly.
#ifndef VREC_TRAINING_RETRIEVAL_TRAINER_H_
#define VREC_TRAINING_RETRIEVAL_TRAINER_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "common/types.h"
#include "featurestore/features.h"
#include "retrieval/two_tower.h"

namespace vrec::training {

struct RetrievalTrainOptions {
  // Data window. time-split: train on events before until_ms (0: start + until_fraction of the
  // log's span), validating on the last validation_fraction of that window. leave-last-out and
  // random (common/leave_last_out.h): the replay's test items are never seen and the
  // validation items are validated on.
  std::string protocol = "time-split";
  TimestampMs until_ms = 0;
  double until_fraction = 0.9;
  double validation_fraction = 0.1;
  int min_grade = 1;             // positives: RelevanceGrade >= this (1: clicks count; see README)

  int epochs = 4;
  int batch_size = 1024;
  double learning_rate = 2e-3;         // Adam, dense layers
  double sparse_learning_rate = 0.05;  // Adagrad, embedding tables
  double temperature = 0.05;
  bool logq_correction = true;
  int uniform_negatives = 0;     // extra negatives per batch, sampled uniformly over videos
  // "auto": train both user towers, export the better on validation; or "pooled", "sequential".
  std::string user_tower = "auto";
  // The sequential tower's own schedule (the fields above configure the pooled one).
  struct Sequential {
    int epochs = 10;
    int batch_size = 128;
    double learning_rate = 1e-3;        // Adam, every parameter
    uint64_t full_softmax_max = 100000;  // full softmax over the candidates up to this many, else in-batch
  } sequential;
  uint64_t seed = 1;
  int threads = 2;               // LibTorch intra-op threads
  int validation_k = 100;
  uint32_t max_validation = 5000;
  // Stop a tower's run after this many epochs without a significant validation gain (more than
  // the recall's standard error); 0: always run every epoch.
  int patience = 2;
  uint64_t max_examples = 0;     // 0: all
  bool keep_best = true;         // export the epoch with the best validation recall, not the last
  // What is exported after the validation picked the tower and the epoch: "scratch", the chosen
  // tower retrained from a fresh start on the training and validation parts together for the
  // chosen epoch count; "tail", the validated weights trained one more epoch on both parts;
  // "none", the validated weights (which the bundle keeps in any case, for the fusion).
  std::string refit = "scratch";
  retrieval::TwoTowerConfig model;  // video_buckets 0: sized from the catalog
  featurestore::FeatureUpdateOptions update;
  bool show_progress = true;
};

struct RetrievalTrainSummary {
  std::string bundle_dir;
  int64_t version = 0;
  uint64_t train_examples = 0;
  uint64_t validation_examples = 0;
  std::string user_tower;                 // the exported tower: "pooled" or "sequential"
  double pooled_recall = -1;              // each trained tower's best validation recall (-1: not trained)
  double sequential_recall = -1;
  std::vector<double> validation_recall;  // per epoch, of the exported tower
  int exported_epoch = 0;                 // 1-based epoch whose weights the bundle holds (validated)
  int refit_epochs = 0;                   // > 0: the exported model is that long a refit on all the data
  std::vector<double> epoch_loss;
  double examples_per_second = 0;
  double train_seconds = 0;               // every tower
  TimestampMs train_start_ms = 0, train_end_ms = 0;
};

// Trains on the world's log and writes <models_dir>/<next version>/ (MANIFEST complete=0).
absl::StatusOr<RetrievalTrainSummary> TrainRetrieval(const std::string& world_dir, const std::string& models_dir,
                                                     const RetrievalTrainOptions& options);

}  // namespace vrec::training

#endif  // VREC_TRAINING_RETRIEVAL_TRAINER_H_
