// `vrec bench ranking`: the ranker's batched forward at serving batch sizes, against the
// machine's GEMM throughput measured in the same run with the same thread count.
#include <torch/torch.h>

#include <chrono>
#include <cstdio>

#include "absl/strings/str_cat.h"
#include "common/random.h"
#include "common/status.h"
#include "ranking/ranker.h"
#include "bundle/bundle.h"
#include "tools/bench_util.h"
#include "tools/commands.h"
#include "tools/flags.h"

namespace vrec {
namespace {

// GFLOP/s of a square single-precision GEMM of side n, best of a few timed runs.
double MeasureGemmGflops(int64_t n, double min_seconds) {
  torch::InferenceMode guard;
  const torch::Tensor a = torch::randn({n, n});
  const torch::Tensor b = torch::randn({n, n});
  torch::Tensor c = torch::mm(a, b);  // warm-up
  double best = 0;
  const auto start = std::chrono::steady_clock::now();
  while (Seconds(start) < min_seconds) {
    const auto t = std::chrono::steady_clock::now();
    torch::mm_out(c, a, b);
    best = std::max(best, 2.0 * n * n * n / Seconds(t) / 1e9);
  }
  return best;
}

}  // namespace

absl::Status BenchRanking(int argc, char** argv) {
  std::string models;
  int64_t version = 0, batch = 500, requests = 2000, threads = 1;
  FlagSet flags("vrec bench ranking",
                "Times the ranker's batched forward (packing included) over `--batch` candidates of one user, "
                "and the machine's GEMM throughput with the same threads, and prints candidates/s and GFLOP/s.");
  flags.String("models", &models, "directory of model bundles (default: an untrained ranker of the default shape)");
  flags.Int("version", &version, "bundle version (0: the newest complete one; it must have a ranker)");
  flags.Int("batch", &batch, "candidates per forward");
  flags.Int("requests", &requests, "timed forwards");
  flags.Int("threads", &threads, "LibTorch threads (the server uses 1 per request)");
  VREC_ASSIGN_OR_RETURN(const bool run, flags.ParseOrPrintHelp(argc, argv, 3));
  if (!run) return absl::OkStatus();
  if (batch < 1 || batch > 100000 || requests < 1 || threads < 1 || threads > 256) {
    return absl::InvalidArgumentError("need --batch 1-100000, --requests >= 1, --threads 1-256");
  }
  torch::set_num_threads(static_cast<int>(threads));
  std::shared_ptr<const ranking::RankerModel> ranker;
  std::string source = "untrained ranker, default shape";
  if (!models.empty()) {
    if (version == 0) {
      VREC_ASSIGN_OR_RETURN(version, bundle::LatestCompleteBundle(models));
    }
    const std::string dir = bundle::BundleDir(models, version);
    VREC_ASSIGN_OR_RETURN(const bundle::BundleManifest manifest, bundle::ReadBundleManifest(dir));
    VREC_ASSIGN_OR_RETURN(ranker, bundle::LoadBundleRanker(dir, manifest));
    source = dir;
  } else {
    VREC_ASSIGN_OR_RETURN(std::unique_ptr<ranking::RankerModel> fresh,
                          ranking::RankerModel::Create(ranking::RankerConfig(), 1));
    ranker = std::move(fresh);
  }

  // Inputs shaped like a real request: a user with a full history, candidates with ids,
  // categories, creators, tags and dense features.
  Rng rng(7);
  const featurestore::TransformOptions& t = ranker->config().transform;
  featurestore::UserInputs user;
  user.country = 1 + rng.UniformInt(t.country_buckets - 1);
  for (int i = 0; i < featurestore::kUserHistory; ++i) {
    user.history[i] = 1 + rng.UniformInt(t.video_buckets - 1);
    user.history_weight[i] = static_cast<float>(rng.Uniform());
  }
  for (int i = 0; i < featurestore::kUserTopCategories; ++i) {
    user.top_categories[i] = 1 + rng.UniformInt(t.category_buckets - 1);
    user.top_category_weight[i] = 1.0f;
  }
  for (float& x : user.dense) x = static_cast<float>(rng.Uniform());
  std::vector<featurestore::VideoInputs> videos(batch);
  std::vector<ranking::CrossInputs> cross(batch);
  for (int64_t i = 0; i < batch; ++i) {
    featurestore::VideoInputs& v = videos[i];
    v.video = 1 + rng.UniformInt(t.video_buckets - 1);
    v.category = 1 + rng.UniformInt(t.category_buckets - 1);
    v.creator = 1 + rng.UniformInt(t.creator_buckets - 1);
    v.language = 1 + rng.UniformInt(t.language_buckets - 1);
    v.duration_bucket = 1 + rng.UniformInt(8);
    for (int64_t& tag : v.tags) tag = 1 + rng.UniformInt(t.tag_buckets - 1);
    for (float& x : v.dense) x = static_cast<float>(rng.Uniform());
    for (float& x : cross[i].dense) x = static_cast<float>(rng.Uniform());
  }
  std::vector<float> heads(batch * ranking::kNumRankerHeads);
  for (int i = 0; i < 20; ++i) VREC_RETURN_IF_ERROR(ranker->Score(user, videos, cross, heads.data()));
  std::vector<double> micros;
  micros.reserve(requests);
  const auto start = std::chrono::steady_clock::now();
  for (int64_t r = 0; r < requests; ++r) {
    const auto t0 = std::chrono::steady_clock::now();
    VREC_RETURN_IF_ERROR(ranker->Score(user, videos, cross, heads.data()));
    micros.push_back(Seconds(t0) * 1e6);
  }
  const double total = Seconds(start);
  const Percentiles p = Summarize(micros);
  const double flops = ranker->FlopsPerCandidate() * batch;
  const double gflops_p50 = flops / (p.p50_us * 1e-6) / 1e9;
  const double gemm = MeasureGemmGflops(1024, 2.0);
  std::printf("ranker: %s (hidden %d/%d, %.0f kFLOP per candidate in the dense layers), %lld thread(s)\n",
              source.c_str(), ranker->config().hidden_dim, ranker->config().hidden2_dim,
              ranker->FlopsPerCandidate() / 1e3, static_cast<long long>(threads));
  std::printf("forward of %lld candidates: p50 %.0f us, p99 %.0f us, mean %.0f us; %.0f candidates/s\n",
              static_cast<long long>(batch), p.p50_us, p.p99_us, p.mean_us, batch * requests / total);
  std::printf("dense layers at p50: %.1f GFLOP/s; machine GEMM (1024^3, same threads): %.1f GFLOP/s; ratio %.0f%%\n",
              gflops_p50, gemm, 100.0 * gflops_p50 / gemm);
  return absl::OkStatus();
}

}  // namespace vrec
