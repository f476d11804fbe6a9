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
  flags.Bool("progress", &o.show_progress, "print progress on stderr");
  flags.Require("world");
  flags.Require("models");
  VREC_ASSIGN_OR_RETURN(const bool run, flags.ParseOrPrintHelp(argc, argv));
  if (!run) return absl::OkStatus();
  if (m < 2 || m > 256 || ef_construction < 1 || ef_search < 0 || threads < 1 || version < 0) {
    return absl::InvalidArgumentError("need --m 2-256, --ef-construction >= 1, --ef-search >= 0, --threads >= 1");
  }
  o.version = version;
  o.hnsw.m = static_cast<int>(m);
  o.hnsw.ef_construction = static_cast<int>(ef_construction);
  o.hnsw.ef_search = static_cast<int>(ef_search);
  o.hnsw.threads = static_cast<int>(threads);
  if (store.empty()) store = DefaultStoreDir(world);
  VREC_ASSIGN_OR_RETURN(training::IndexBuildSummary s, training::BuildBundleIndex(world, store, models, o));
  std::printf("indexed %llu videos into %s: embed %.1f s, HNSW build %.1f s, %.0f MB, recall@%d %.4f at efSearch %d; "
              "bundle complete\n",
              static_cast<unsigned long long>(s.items), s.bundle_dir.c_str(), s.embed_seconds, s.build_seconds,
              s.memory_bytes / 1e6, o.recall_k, s.recall, s.ef_search);
  return absl::OkStatus();
}

}  // namespace vrec
