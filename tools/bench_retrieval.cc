// `vrec bench retrieval`: the item index of a model bundle against exact search, on real
// user-tower queries (users sampled from the world, features from the store) and on item
// queries (videos' own embeddings, the item-to-item case). Single-threaded searches.
#include <sys/resource.h>

#include <chrono>
#include <cstdio>

#include "absl/strings/str_cat.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"
#include "common/random.h"
#include "common/status.h"
#include "common/world.h"
#include "featurestore/feature_store.h"
#include "featurestore/transforms.h"
#include "bundle/bundle.h"
#include "retrieval/hnsw_index.h"
#include "tools/bench_util.h"
#include "training/index_builder.h"
#include "tools/commands.h"
#include "tools/flags.h"

namespace vrec {
namespace {

double PeakRssMb() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return usage.ru_maxrss / 1024.0;
}

struct SweepRow {
  int ef = 0;
  double recall = 0;
  Percentiles latency{};
  double qps = 0;
};

// Recall of HNSW at `ef` against the exact lists, with latency per query.
SweepRow Measure(const retrieval::HnswIndex& index, const std::vector<float>& queries, int k, int ef,
                 const std::vector<std::vector<retrieval::ScoredVideo>>& exact) {
  const size_t n = exact.size();
  std::vector<double> micros(n);
  std::vector<retrieval::ScoredVideo> found;
  double recall = 0;
  const auto all = std::chrono::steady_clock::now();
  for (size_t q = 0; q < n; ++q) {
    const auto start = std::chrono::steady_clock::now();
    index.Search(queries.data() + q * index.dim(), k, &found, ef);
    micros[q] = Seconds(start) * 1e6;
    if (exact[q].empty()) continue;
    // Tie-aware, as MeasureRecall: a result scoring at least the exact k-th score counts.
    const float kth = exact[q].back().score - 1e-6f;
    size_t hits = 0;
    for (const retrieval::ScoredVideo& s : found) hits += s.score >= kth;
    recall += double(std::min(hits, exact[q].size())) / exact[q].size();
  }
  const double seconds = Seconds(all);
  return {ef, recall / n, Summarize(micros), n / seconds};
}

void Sweep(const char* label, const retrieval::HnswIndex& index, const std::vector<float>& queries, int k,
           const std::vector<int>& efs, double target) {
  const size_t n = queries.size() / index.dim();
  std::vector<std::vector<retrieval::ScoredVideo>> exact(n);
  std::vector<double> exact_us(n);
  const auto all = std::chrono::steady_clock::now();
  double spread = 0;
  for (size_t q = 0; q < n; ++q) {
    const auto start = std::chrono::steady_clock::now();
    index.ExactSearch(queries.data() + q * index.dim(), k, &exact[q]);
    exact_us[q] = Seconds(start) * 1e6;
    if (!exact[q].empty()) spread += exact[q].front().score - exact[q].back().score;
  }
  const double exact_qps = n / Seconds(all);
  const Percentiles e = Summarize(exact_us);
  std::printf("\n%s: %zu queries, k=%d; mean score gap between exact rank 1 and rank %d: %.4f\n", label, n, k, k,
              spread / std::max<size_t>(1, n));
  std::printf("  exact search:  p50 %9.1f us  p99 %9.1f us  %9.1f QPS\n", e.p50_us, e.p99_us, exact_qps);
  std::printf("  %8s %10s %12s %12s %10s %10s\n", "efSearch", "recall@k", "p50 us", "p99 us", "QPS", "vs exact");
  const SweepRow* best = nullptr;
  std::vector<SweepRow> rows;
  rows.reserve(efs.size());
  for (int ef : efs) {
    rows.push_back(Measure(index, queries, k, ef, exact));
    const SweepRow& r = rows.back();
    std::printf("  %8d %10.4f %12.1f %12.1f %10.1f %9.1fx\n", r.ef, r.recall, r.latency.p50_us, r.latency.p99_us, r.qps,
                r.qps / exact_qps);
    if (best == nullptr && r.recall >= target) best = &rows.back();
  }
  if (best != nullptr) {
    std::printf("  -> recall@%d >= %.2f at efSearch %d: %.4f, %.1f QPS = %.1fx exact search\n", k, target, best->ef,
                best->recall, best->qps, best->qps / exact_qps);
  } else {
    std::printf("  -> recall@%d >= %.2f not reached up to efSearch %d\n", k, target, efs.back());
  }
}

}  // namespace

absl::Status BenchRetrieval(int argc, char** argv) {
  std::string models, world, store_dir, ef_list = "100,200,400,800,1600,3200";
  int64_t version = 0;
  uint32_t queries = 500, k = 100;
  double target = 0.95;
  FlagSet flags("vrec bench retrieval",
                "HNSW search of a bundle's item index against exact search: recall@k, latency and QPS per efSearch, "
                "on user-tower queries (with --world) and on item queries; plus the bundle's build and training "
                "numbers.");
  flags.String("models", &models, "directory of model bundles (required)");
  flags.Int("version", &version, "bundle version (default: newest complete)");
  flags.String("world", &world, "sample real users of this world for user-tower queries");
  flags.String("store", &store_dir, "feature store for those users (default: WORLD/features)");
  flags.Uint32("queries", &queries, "queries per kind");
  flags.Uint32("k", &k, "neighbours per query");
  flags.String("ef", &ef_list, "efSearch values to sweep, comma-separated");
  flags.Double("target", &target, "recall target to report the speed-up at");
  flags.Require("models");
  VREC_ASSIGN_OR_RETURN(const bool run, flags.ParseOrPrintHelp(argc, argv, 3));
  if (!run) return absl::OkStatus();
  if (queries < 1 || k < 1) return absl::InvalidArgumentError("--queries and --k must be at least 1");
  std::vector<int> efs;
  for (absl::string_view e : absl::StrSplit(ef_list, ',', absl::SkipEmpty())) {
    int ef = 0;
    if (!absl::SimpleAtoi(e, &ef) || ef < 1) return absl::InvalidArgumentError(absl::StrCat("bad --ef value '", e, "'"));
    efs.push_back(ef);
  }
  if (efs.empty()) return absl::InvalidArgumentError("--ef lists no values");
  if (version == 0) {
    VREC_ASSIGN_OR_RETURN(version, bundle::LatestCompleteBundle(models));
  }
  const double rss_before = PeakRssMb();
  const auto load_start = std::chrono::steady_clock::now();
  VREC_ASSIGN_OR_RETURN(std::shared_ptr<const bundle::Bundle> bundle, bundle::LoadBundle(models, version));
  const double load_seconds = Seconds(load_start);
  const retrieval::HnswIndex& index = *bundle->index;
  const bundle::BundleManifest& m = bundle->manifest;
  std::printf("bundle %s: %zu items, dim %d, M %d, efConstruction %d\n", bundle->dir.c_str(), index.size(), index.dim(),
              m.index->m, m.index->ef_construction);
  std::printf("training: %lld examples, %.0f examples/s (from the MANIFEST, measured by train-retrieval)\n",
              static_cast<long long>(m.train.examples), m.train.examples_per_second);
  std::printf("index build: %.1f s (build-index); load %.1f s; index memory %.0f MB; process peak RSS %.0f MB "
              "(%.0f MB before loading)\n",
              m.index->build_seconds, load_seconds, index.memory_bytes() / 1e6, PeakRssMb(), rss_before);

  Rng rng(12345);
  if (!world.empty()) {
    if (store_dir.empty()) store_dir = DefaultStoreDir(world);
    VREC_ASSIGN_OR_RETURN(Catalog catalog, ReadCatalog(world));
    featurestore::FeatureStoreOptions store_options;
    store_options.read_only = true;
    VREC_ASSIGN_OR_RETURN(std::unique_ptr<featurestore::FeatureStore> store,
                          featurestore::FeatureStore::Open(store_dir, store_options));
    VREC_ASSIGN_OR_RETURN(std::vector<float> q,
                          training::SampleUserQueries(catalog, *store, *bundle->two_tower, queries, rng));
    Sweep("user-tower queries", index, q, static_cast<int>(k), efs, target);
  }
  std::vector<float> items;
  for (uint32_t i = 0; i < queries; ++i) {
    const float* e = index.Embedding(index.ids()[rng.UniformInt(index.size())]);
    items.insert(items.end(), e, e + index.dim());
  }
  Sweep("item queries", index, items, static_cast<int>(k), efs, target);
  return absl::OkStatus();
}

}  // namespace vrec
