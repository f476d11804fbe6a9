// Trains the learned fusion (ranking/fusion.h) of a ranker bundle on held-out next engagements,
// and keeps it only when it is at least as good as both the ranker's order and the best single
// source (a tie means it reproduces that source's order, which the ranker alone would not).
// The decision and the number of epochs come from cross-fitting (every user's engagements are
// validated once, by a fusion trained on the other folds); the exported fusion is then refit on
// all of them.
//
// Queries are the engagements the bundle's models never trained on: each user's validation
// item (leave-last-out), validation pairs (random), or new engaged videos in the ranker's
// validation window (time-split); one feed request per user answers all of that user's. For each, the pipeline runs as of the query's time
// (pipeline/point_in_time.h) on the events before it, with collaborative tables fitted on those
// events only (the bundle's own tables were refitted on everything); the candidates the sources
// actually return, with the ranker's scores, are the fusion's inputs and the engaged video its
// target (listwise softmax). Queries whose engaged video no source returned teach nothing and
// count as misses in the validation metric.
//
// Part of `vrec train-ranker` (on by default), which calls it on the bundle it just wrote; the
// MANIFEST records the fusion's validation NDCG@10 next to the ranker's and the best source's,
// and whether the feed uses it.
#ifndef VREC_TRAINING_FUSION_TRAINER_H_
#define VREC_TRAINING_FUSION_TRAINER_H_

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "bundle/manifest.h"

namespace vrec::training {

struct FusionTrainOptions {
  // Users with held-out engagements asked (deterministic sample); each of their held-out
  // engagements is one query.
  uint32_t max_queries = 6000;
  double validation_share = 0.25;  // each cross-fitting fold's share of those users (0.25: 4 folds)
  int hidden = 32;
  int epochs = 12;
  int batch_queries = 32;
  double learning_rate = 3e-3;
  uint64_t seed = 1;
  int threads = 2;
  bool show_progress = true;
};

// Trains, validates and, when it wins, writes fusion.pt into `bundle_dir`; always records
// fusion.* in its MANIFEST. FailedPrecondition for a bundle without a ranker.
absl::StatusOr<bundle::FusionInfo> TrainFusion(const std::string& world_dir, const std::string& bundle_dir,
                                               const FusionTrainOptions& options);

}  // namespace vrec::training

#endif  // VREC_TRAINING_FUSION_TRAINER_H_
