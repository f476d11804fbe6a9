#include "serving/model_updater.h"

#include <sched.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>

#include "absl/strings/str_cat.h"
#include "common/status.h"
#include "bundle/bundle.h"
#include "retrieval/exact_index.h"
#include "retrieval/popularity.h"

namespace vrec::serving {
namespace {

struct LoadedBundle {
  std::shared_ptr<const bundle::Bundle> bundle;
  std::shared_ptr<const retrieval::VectorIndex> index;  // what the sources search
};

absl::StatusOr<LoadedBundle> Load(const std::string& models_dir, int64_t version, bool exact_search) {
  LoadedBundle b;
  VREC_ASSIGN_OR_RETURN(b.bundle, bundle::LoadBundle(models_dir, version));
  b.index = b.bundle->index;
  if (exact_search) {
    const retrieval::HnswIndex& hnsw = *b.bundle->index;
    VREC_ASSIGN_OR_RETURN(b.index, retrieval::ExactIndex::Create(hnsw.ids(), hnsw.embeddings(), hnsw.dim()));
  }
  return b;
}

}  // namespace

ModelUpdater::ModelUpdater(const featurestore::FeatureStore* store, std::string models_dir, const Clock* clock,
                           pipeline::FeedModelOptions options)
    : store_(store), models_dir_(std::move(models_dir)), clock_(clock), options_(std::move(options)) {}

ModelUpdater::~ModelUpdater() { Stop(); }

void ModelUpdater::Stop() {
  if (!stop_.HasBeenNotified()) stop_.Notify();
  if (thread_.joinable()) thread_.join();
}

absl::StatusOr<std::shared_ptr<const pipeline::FeedModel>> ModelUpdater::LoadInitial() {
  absl::MutexLock lock(&mu_);
  if (!models_dir_.empty()) {
    VREC_ASSIGN_OR_RETURN(const int64_t version, bundle::LatestCompleteBundle(models_dir_));
    VREC_ASSIGN_OR_RETURN(LoadedBundle loaded, Load(models_dir_, version, options_.exact_search));
    bundle_ = loaded.bundle;
    index_ = loaded.index;
  }
  VREC_ASSIGN_OR_RETURN(retrieval::PopularitySnapshot popularity,
                        retrieval::BuildPopularitySnapshot(*store_, clock_->NowMs(), options_.popularity));
  return MakeModel(std::move(popularity));
}

absl::Status ModelUpdater::RefreshOnce(FeedService* service) {
  absl::MutexLock lock(&mu_);
  const auto start = std::chrono::steady_clock::now();
  if (!models_dir_.empty()) {
    absl::StatusOr<int64_t> latest = bundle::LatestCompleteBundle(models_dir_);
    const int64_t current = bundle_ != nullptr ? bundle_->version : 0;
    if (latest.ok() && *latest > current && *latest != rejected_version_) {
      absl::StatusOr<LoadedBundle> loaded = Load(models_dir_, *latest, options_.exact_search);
      if (loaded.ok()) {
        bundle_ = loaded->bundle;
        index_ = loaded->index;
        service->metrics().Increment("vrec_bundle_swaps_total");
        std::fprintf(stderr, "model bundle %lld loaded from %s\n", static_cast<long long>(*latest),
                     bundle_->dir.c_str());
      } else {
        rejected_version_ = *latest;
        service->metrics().Increment("vrec_bundle_rejected_total");
        std::fprintf(stderr, "model bundle %lld rejected, keeping %lld: %s\n", static_cast<long long>(*latest),
                     static_cast<long long>(current), loaded.status().ToString().c_str());
      }
    }
  }
  absl::StatusOr<retrieval::PopularitySnapshot> popularity =
      retrieval::BuildPopularitySnapshot(*store_, clock_->NowMs(), options_.popularity);
  if (!popularity.ok()) {
    service->metrics().Increment("vrec_model_refresh_failures_total");
    return popularity.status();
  }
  service->SetModel(MakeModel(std::move(*popularity)));
  service->metrics().Increment("vrec_model_refreshes_total");
  service->metrics().Increment(
      "vrec_model_refresh_milliseconds_total",
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - start).count());
  return absl::OkStatus();
}

std::shared_ptr<const pipeline::FeedModel> ModelUpdater::MakeModel(retrieval::PopularitySnapshot popularity) {
  pipeline::FeedModelParts parts;
  parts.popularity = std::move(popularity);
  if (bundle_ != nullptr) {
    parts.version = absl::StrCat(bundle_->version);
    parts.two_tower = bundle_->two_tower;
    parts.index = index_;
    parts.ranker = bundle_->ranker;
    parts.collaborative = bundle_->collaborative;
    parts.fusion = bundle_->fusion;
    parts.rules = bundle::KeptRules(bundle_->manifest);
  }
  return pipeline::MakeFeedModel(std::move(parts), options_);
}

void ModelUpdater::Start(FeedService* service, absl::Duration period) {
  thread_ = std::thread([this, service, period] {
    // Refreshes scan every video and must not take a core from requests: SCHED_IDLE runs
    // this thread only on time the request threads leave idle (with a lower nice level as the
    // fallback where that policy is refused). Under saturation a refresh is slow, not lost.
    const sched_param idle{};
    if (sched_setscheduler(static_cast<pid_t>(syscall(SYS_gettid)), SCHED_IDLE, &idle) != 0) {
      setpriority(PRIO_PROCESS, static_cast<id_t>(syscall(SYS_gettid)), 19);
    }
    while (!stop_.WaitForNotificationWithTimeout(period)) {
      if (absl::Status s = RefreshOnce(service); !s.ok()) {
        std::fprintf(stderr, "model refresh failed (keeping the current model): %s\n", s.ToString().c_str());
      }
    }
  });
}

}  // namespace vrec::serving
