// `vrec build-index`: completes a model bundle with its HNSW item index.
#include <cstdio>

#include "absl/strings/str_cat.h"
#include "common/status.h"
#include "tools/commands.h"
#include "tools/flags.h"
#include "training/index_builder.h"

namespace vrec {

absl::Status RunBuildIndex(int argc, char** argv) {
  training::IndexBuildOptions o;
  std::string world, store, models;
  int64_t version = 0, m = o.hnsw.m, ef_construction = o.hnsw.ef_construction, ef_search = 0, threads = o.hnsw.threads;
  FlagSet flags("vrec build-index",
                "Embeds every video of the feature store with a bundle's item tower, builds the HNSW index, "
                "measures recall@k against exact search and marks the bundle complete.");
  flags.String("world", &world, "world directory (users sampled for recall queries)");
  flags.String("store", &store, "feature store (default: WORLD/features)");
  flags.String("models", &models, "directory of model bundles");
  flags.Int("version", &version, "bundle version (0: the latest)");
  flags.Int("m", &m, "HNSW graph degree M");
  flags.Int("ef-construction", &ef_construction, "HNSW efConstruction");
  flags.Int("ef-search", &ef_search, "HNSW efSearch (0: the smallest power-of-two multiple of k meeting --recall-target)");
  flags.Double("recall-target", &o.recall_target, "recall@k the tuned efSearch must reach");
  flags.Uint32("recall-queries", &o.recall_queries, "user queries for the recall measurement");
  flags.Int("threads", &threads, "build threads");
  int64_t ease_cap = o.collab.ease_cap, neighbours = o.collab.neighbours, ease_dense_max = o.collab.ease_dense_max;
  flags.Bool("collaborative", &o.collaborative,
             "also fit the collaborative tables (item-kNN, EASE, next-item transitions) on the two-tower's training "
             "window");
  flags.Int("ease-cap", &ease_cap, "item-kNN and EASE cover this many of the most engaged videos (<= 50000; EASE "
                                   "inverts a dense cap x cap matrix)");
  flags.Double("ease-lambda", &o.collab.ease_lambda, "EASE's L2 regularisation");
  flags.Int("neighbours", &neighbours, "neighbours kept per video (item-kNN, EASE)");
  flags.Int("ease-dense-max", &ease_dense_max,
            "up to this many videos in the EASE cap (<= 20000), the bundle also keeps every EASE weight (n^2 floats) "
            "and the ease source scores exactly; 0: never");
  flags.Bool("progress", &o.show_progress, "print progress on stderr");
  flags.Require("world");
  flags.Require("models");
  VREC_ASSIGN_OR_RETURN(const bool run, flags.ParseOrPrintHelp(argc, argv));
  if (!run) return absl::OkStatus();
  if (m < 2 || m > 256 || ef_construction < 1 || ef_search < 0 || threads < 1 || version < 0) {
    return absl::InvalidArgumentError("need --m 2-256, --ef-construction >= 1, --ef-search >= 0, --threads >= 1");
  }
  if (ease_cap < 1 || ease_cap > 50000 || neighbours < 1 || neighbours > 10000 || !(o.collab.ease_lambda > 0) ||
      ease_dense_max < 0 || ease_dense_max > 20000) {
    return absl::InvalidArgumentError(
        "need --ease-cap 1-50000, --neighbours 1-10000, --ease-lambda > 0, --ease-dense-max 0-20000");
  }
  o.collab.ease_dense_max = static_cast<int>(ease_dense_max);
  o.collab.ease_cap = static_cast<int>(ease_cap);
  o.collab.neighbours = static_cast<int>(neighbours);
  o.collab.threads = static_cast<int>(threads);
  o.collab.show_progress = o.show_progress;
  o.version = version;
  o.hnsw.m = static_cast<int>(m);
  o.hnsw.ef_construction = static_cast<int>(ef_construction);
  o.hnsw.ef_search = static_cast<int>(ef_search);
  o.hnsw.threads = static_cast<int>(threads);
  if (store.empty()) store = DefaultStoreDir(world);
  VREC_ASSIGN_OR_RETURN(training::IndexBuildSummary s, training::BuildBundleIndex(world, store, models, o));
  std::printf("indexed %llu videos into %s: embed %.1f s, HNSW build %.1f s, %.0f MB, recall@%d %.4f at efSearch %d; "
              "collaborative tables %.1f s (EASE over %lld videos); bundle complete\n",
              static_cast<unsigned long long>(s.items), s.bundle_dir.c_str(), s.embed_seconds, s.build_seconds,
              s.memory_bytes / 1e6, o.recall_k, s.recall, s.ef_search, s.collab_seconds,
              static_cast<long long>(s.collab_ease_videos));
  return absl::OkStatus();
}

}  // namespace vrec
