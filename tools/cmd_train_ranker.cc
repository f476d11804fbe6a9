// `vrec train-ranker`: trains the deep ranker on logged impressions and exports a bundle.
#include <cstdio>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/clock.h"
#include "common/status.h"
#include "tools/commands.h"
#include "tools/flags.h"
#include "training/ranker_trainer.h"

namespace vrec {

absl::Status RunTrainRanker(int argc, char** argv) {
  training::RankerTrainOptions o;
  std::string world, models, until;
  int64_t epochs = o.epochs, batch = o.batch_size, threads = o.threads, base = 0, hidden = o.model.hidden_dim,
          hidden2 = o.model.hidden2_dim, sampled = o.sampled_negatives;
  double w_click = o.model.head_weights[ranking::kHeadClick], w_watch = o.model.head_weights[ranking::kHeadWatch],
         w_like = o.model.head_weights[ranking::kHeadLike], w_exposure = o.model.head_weights[ranking::kHeadExposure];
  FlagSet flags("vrec train-ranker",
                "Trains the multi-task ranker on logged impressions (point-in-time features, labels from the same "
                "request's clicks, watches and likes) against a complete retrieval bundle, and writes a new bundle "
                "version holding both.");
  flags.String("world", &world, "world directory");
  flags.String("models", &models, "directory of model bundles (a new version is added)");
  flags.Int("base-version", &base, "retrieval bundle to build on (0: the newest complete bundle without a ranker)");
  flags.String("until", &until, "train on impressions before this time (default: the base bundle's training end)");
  flags.Double("validation-fraction", &o.validation_fraction, "last part of the window used for validation");
  flags.Uint64("max-examples", &o.max_examples, "most recent training impressions used (0: all)");
  flags.Uint64("max-validation", &o.max_validation, "validation impressions used, whole slates from the start of the validation window (0: all)");
  flags.Double("retrieval-dropout", &o.retrieval_dropout,
               "share of training examples without the retrieval score (as for videos missing from the index)");
  flags.Int("epochs", &epochs, "passes over the training impressions");
  flags.Int("batch-size", &batch, "examples per step");
  flags.Double("learning-rate", &o.learning_rate, "Adam learning rate of the dense layers");
  flags.Double("sparse-learning-rate", &o.sparse_learning_rate, "Adagrad learning rate of the embedding tables");
  flags.Int("hidden", &hidden, "width of the first shared layer");
  flags.Int("hidden2", &hidden2, "width of the second shared layer");
  flags.Double("weight-click", &w_click, "weight of P(click) in the final score");
  flags.Double("weight-watch", &w_watch, "weight of P(watch >= 50%) in the final score");
  flags.Double("weight-like", &w_like, "weight of P(like or share) in the final score");
  flags.Double("weight-exposure", &w_exposure,
               "exponent of the exposure odds P(shown) / (1 - P(shown)) in the final score (1: expected engagement; 0: engagement given "
               "it is shown)");
  flags.Int("sampled-negatives", &sampled, "catalog videos sampled per slate as not-shown examples");
  flags.Bool("keep-best", &o.keep_best, "export the epoch with the best validation slate NDCG");
  flags.Uint64("seed", &o.seed, "random seed");
  flags.Int("threads", &threads, "LibTorch threads");
  flags.Bool("fusion", &o.fusion,
             "then train the learned fusion of every source and the ranker on held-out engagements; the feed uses it "
             "only when it is at least as good as the ranker and the best single source there");
  flags.Uint32("fusion-queries", &o.fusion_options.max_queries, "users with held-out engagements the fusion asks (each of their engagements is a query)");
  flags.Bool("progress", &o.show_progress, "print progress on stderr");
  flags.Require("world");
  flags.Require("models");
  VREC_ASSIGN_OR_RETURN(const bool run, flags.ParseOrPrintHelp(argc, argv));
  if (!run) return absl::OkStatus();
  if (!until.empty()) {
    VREC_ASSIGN_OR_RETURN(o.until_ms, ParseTimestamp(until));
  }
  if (epochs < 1 || epochs > 1000 || batch < 2 || batch > 65536 || threads < 1 || threads > 256 || base < 0 ||
      hidden < 1 || hidden > 8192 || hidden2 < 1 || hidden2 > 8192 || w_click < 0 || w_watch < 0 || w_like < 0 ||
      w_exposure < 0 || sampled < 0 || sampled > 1000) {
    return absl::InvalidArgumentError(
        "out-of-range flag: --epochs 1-1000, --batch-size 2-65536, --threads 1-256, --base-version >= 0, "
        "--hidden and --hidden2 1-8192, --weight-* >= 0, --sampled-negatives 0-1000");
  }
  o.epochs = static_cast<int>(epochs);
  o.batch_size = static_cast<int>(batch);
  o.threads = static_cast<int>(threads);
  o.base_version = base;
  o.model.hidden_dim = static_cast<int>(hidden);
  o.model.hidden2_dim = static_cast<int>(hidden2);
  o.model.head_weights = {static_cast<float>(w_click), static_cast<float>(w_watch), static_cast<float>(w_like),
                          static_cast<float>(w_exposure)};
  o.sampled_negatives = static_cast<int>(sampled);
  VREC_ASSIGN_OR_RETURN(training::RankerTrainSummary s, training::TrainRanker(world, models, o));
  const training::RankerEpochMetrics& m = s.epochs[s.exported_epoch - 1];
  const std::string baseline =
      s.from_engagements ? absl::StrFormat("(engaged video among %d sampled)", o.sampled_negatives)
                         : absl::StrFormat("vs logged order %.4f", s.logged_slate_ndcg);
  std::printf(
      "trained ranker bundle %s on base %lld: %llu %s (before %s), %d epochs in %.1f s (%.0f examples/s); "
      "exported epoch %d: AUC click %.4f, watch50 %.4f, like %.4f, exposure %.4f; slate NDCG@10 %.4f %s over "
      "%llu validation slates\n",
      s.bundle_dir.c_str(), static_cast<long long>(s.base_version), static_cast<unsigned long long>(s.train_examples),
      s.from_engagements ? "examples" : "impressions", FormatTimestamp(s.train_end_ms).c_str(), o.epochs,
      s.train_seconds, s.examples_per_second, s.exported_epoch, m.heads[ranking::kHeadClick].auc,
      m.heads[ranking::kHeadWatch].auc, m.heads[ranking::kHeadLike].auc, m.heads[ranking::kHeadExposure].auc,
      m.slate_ndcg, baseline.c_str(), static_cast<unsigned long long>(s.validation_slates));
  if (s.fusion.has_value()) {
    const bundle::FusionInfo& f = *s.fusion;
    std::printf(
        "fusion: %s; validation NDCG@10 %.4f vs ranker %.4f and best source %s %.4f over %lld held-out engagements "
        "(%.1f%% among the candidates), %.1f s\n",
        !f.used                ? "not used (the ranker's order is the best)"
        : f.order == "learned" ? "in use"
                               : absl::StrCat("the learned fusion alone lost to source ", f.order,
                                              ", so the feed orders by that source, then by the fusion").c_str(), f.validation_ndcg, f.ranker_ndcg, f.best_source.c_str(),
        f.best_source_ndcg, static_cast<long long>(f.validation_queries), 100 * f.candidate_recall, f.seconds);
  }
  return absl::OkStatus();
}

}  // namespace vrec
