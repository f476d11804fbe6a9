// `vrec train-retrieval`: trains the two-tower model and exports a bundle.
#include <cstdio>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "common/clock.h"
#include "common/status.h"
#include "tools/commands.h"
#include "tools/flags.h"
#include "evaluation/replay.h"
#include "training/retrieval_trainer.h"

namespace vrec {

absl::Status RunTrainRetrieval(int argc, char** argv) {
  training::RetrievalTrainOptions o;
  std::string world, models, protocol = "time-split", until;
  int64_t epochs = o.epochs, batch = o.batch_size, dim = o.model.embedding_dim, threads = o.threads,
          negatives = o.uniform_negatives, k = o.validation_k, min_grade = o.min_grade;
  int64_t sequence_epochs = o.sequential.epochs, sequence_batch = o.sequential.batch_size,
          layers = o.model.sequence_layers, heads = o.model.sequence_heads, patience = o.patience;
  double dropout = o.model.sequence_dropout;
  uint32_t video_buckets = 0;
  bool logq = o.logq_correction;
  FlagSet flags("vrec train-retrieval",
                "Trains the two-tower retrieval model on point-in-time examples and writes a model bundle "
                "(complete it with `vrec build-index`).");
  flags.String("world", &world, "world directory");
  flags.String("models", &models, "directory of model bundles (a new version is added)");
  flags.String("protocol", &protocol,
               "time-split (train before --until, validate on its last part), leave-last-out (hold out each "
               "user's last item, validate on the one before) or random (hold out a seeded 25% of each video's "
               "users, validate on 10% of the rest)");
  flags.String("until", &until, "time-split: train on events before this time");
  flags.Double("until-fraction", &o.until_fraction, "time-split without --until: this far through the log (0.9 = the replay's default split)");
  flags.Double("validation-fraction", &o.validation_fraction, "time-split: last part of the window used for validation");
  flags.String("user-tower", &o.user_tower,
               "auto (train the pooled and the sequential tower, export the better on validation), pooled or "
               "sequential");
  flags.Int("min-grade", &min_grade, "positives have relevance grade >= this (1 click, 2 long watch, 3 like/share)");
  flags.Int("epochs", &epochs, "passes over the training examples");
  flags.Int("batch-size", &batch, "examples per step (and in-batch negatives)");
  flags.Double("learning-rate", &o.learning_rate, "Adam learning rate of the dense layers");
  flags.Double("sparse-learning-rate", &o.sparse_learning_rate, "Adagrad learning rate of the embedding tables");
  flags.Double("temperature", &o.temperature, "softmax temperature (pooled tower)");
  flags.Int("sequence-epochs", &sequence_epochs, "sequential tower: passes over the training examples");
  flags.Int("sequence-batch-size", &sequence_batch, "sequential tower: examples per step");
  flags.Double("sequence-learning-rate", &o.sequential.learning_rate, "sequential tower: Adam learning rate");
  flags.Int("sequence-layers", &layers, "sequential tower: self-attention blocks");
  flags.Int("sequence-heads", &heads, "sequential tower: attention heads (dividing --dim)");
  flags.Double("dropout", &dropout, "sequential tower: dropout while training");
  flags.Uint64("full-softmax-max", &o.sequential.full_softmax_max,
               "sequential tower: full softmax over the catalog up to this many videos, else in-batch negatives");
  flags.Bool("logq", &logq, "logQ correction of in-batch negatives");
  flags.Int("uniform-negatives", &negatives, "extra uniformly sampled negatives per batch");
  flags.Int("dim", &dim, "embedding dimension");
  flags.Uint32("video-buckets", &video_buckets, "hashed video-id embedding rows (0: twice the catalog, a power of two)");
  flags.Int("k", &k, "validation Recall@k");
  flags.Uint32("max-validation", &o.max_validation, "validation examples scored per epoch");
  flags.Uint64("max-examples", &o.max_examples, "use at most this many (most recent) training examples (0: all)");
  flags.Int("patience", &patience,
            "stop a tower after this many epochs without a significant validation gain (0: run every epoch)");
  flags.Bool("keep-best", &o.keep_best,
             "export the epoch with the best validation recall (every epoch is kept under checkpoints/)");
  flags.String("refit", &o.refit,
               "scratch (export the chosen tower retrained from scratch on the training and validation parts for "
               "the chosen number of epochs), tail (the validated weights trained one more epoch on both parts) "
               "or none (the validated weights); the validated model stays in the bundle as two_tower_held_out.pt");
  flags.Uint64("seed", &o.seed, "random seed (initialisation, shuffling)");
  flags.Int("threads", &threads, "LibTorch threads");
  flags.Bool("progress", &o.show_progress, "print progress on stderr");
  flags.Require("world");
  flags.Require("models");
  VREC_ASSIGN_OR_RETURN(const bool run, flags.ParseOrPrintHelp(argc, argv));
  if (!run) return absl::OkStatus();
  VREC_RETURN_IF_ERROR(evaluation::ParseReplayProtocol(protocol).status());
  o.protocol = protocol;
  if (!until.empty()) {
    VREC_ASSIGN_OR_RETURN(o.until_ms, ParseTimestamp(until));
  }
  if (epochs < 1 || epochs > 1000 || batch < 2 || batch > 65536 || dim < 2 || dim > 1024 || threads < 1 ||
      threads > 256 || negatives < 0 || negatives > 65536 || k < 1 || min_grade < 1 || min_grade > 3 ||
      sequence_epochs < 1 || sequence_epochs > 1000 || sequence_batch < 2 || sequence_batch > 65536 || layers < 1 ||
      layers > 16 || heads < 1 || heads > 64 || patience < 0 || patience > 1000) {
    return absl::InvalidArgumentError(
        "out-of-range flag: --epochs and --sequence-epochs 1-1000, --batch-size and --sequence-batch-size 2-65536, "
        "--dim 2-1024, --threads 1-256, --uniform-negatives 0-65536, --k >= 1, --min-grade 1-3, --sequence-layers "
        "1-16, --sequence-heads 1-64, --patience 0-1000");
  }
  o.sequential.epochs = static_cast<int>(sequence_epochs);
  o.patience = static_cast<int>(patience);
  o.sequential.batch_size = static_cast<int>(sequence_batch);
  o.model.sequence_layers = static_cast<int>(layers);
  o.model.sequence_heads = static_cast<int>(heads);
  o.model.sequence_dropout = static_cast<float>(dropout);
  o.epochs = static_cast<int>(epochs);
  o.batch_size = static_cast<int>(batch);
  o.model.embedding_dim = static_cast<int>(dim);
  o.model.transform.video_buckets = video_buckets;
  o.threads = static_cast<int>(threads);
  o.uniform_negatives = static_cast<int>(negatives);
  o.validation_k = static_cast<int>(k);
  o.min_grade = static_cast<int>(min_grade);
  o.logq_correction = logq;
  VREC_ASSIGN_OR_RETURN(training::RetrievalTrainSummary s, training::TrainRetrieval(world, models, o));
  std::vector<std::string> recalls;
  for (double r : s.validation_recall) recalls.push_back(absl::StrFormat("%.4f", r));
  std::string towers;
  if (s.pooled_recall >= 0) absl::StrAppendFormat(&towers, " pooled %.4f", s.pooled_recall);
  if (s.sequential_recall >= 0) absl::StrAppendFormat(&towers, " sequential %.4f", s.sequential_recall);
  std::printf(
      "trained two-tower bundle %s: %llu examples (%s to %s) in %.1f s; best validation Recall@%d by user tower:%s; "
      "exported the %s tower, epoch %d%s (Recall@%d by epoch: %s, %.0f examples/s); next: vrec build-index --world %s "
      "--models %s\n",
      s.bundle_dir.c_str(), static_cast<unsigned long long>(s.train_examples),
      FormatTimestamp(s.train_start_ms).c_str(), FormatTimestamp(s.train_end_ms).c_str(), s.train_seconds,
      o.validation_k, towers.c_str(), s.user_tower.c_str(), s.exported_epoch,
      s.refit_epochs > 0 ? absl::StrCat(", refit (", o.refit, ") on all the data for ", s.refit_epochs, " epochs").c_str()
                         : "",
      o.validation_k,
      absl::StrJoin(recalls, ", ").c_str(), s.examples_per_second, world.c_str(), models.c_str());
  return absl::OkStatus();
}

}  // namespace vrec
