#include "serving/model_updater.h"

#include <sched.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <exception>
#include <filesystem>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
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

// What identifies a bundle folder's state without reading its files: every top-level entry's
// name, size and modification time (links followed), one line each, sorted. A rewritten or
// replaced file changes it.
std::string Fingerprint(const std::string& dir) {
  std::vector<std::string> lines;
  std::error_code ec;
  std::filesystem::directory_iterator it(dir, ec);
  for (const std::filesystem::directory_iterator end; !ec && it != end; it.increment(ec)) {
    std::error_code e;
    const auto size = std::filesystem::file_size(it->path(), e);
    const auto time = std::filesystem::last_write_time(it->path(), e);
    lines.push_back(absl::StrCat(it->path().filename().string(), " ", e ? 0 : size, " ",
                                 e ? 0 : time.time_since_epoch().count()));
  }
  std::sort(lines.begin(), lines.end());
  return absl::StrJoin(lines, "\n");
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

bool ModelUpdater::Quarantined(int64_t version) {
  const auto it = quarantined_.find(version);
  return it != quarantined_.end() && it->second == Fingerprint(bundle::BundleDir(models_dir_, version));
}

bool ModelUpdater::TryLoad(int64_t version) {
  const std::string dir = bundle::BundleDir(models_dir_, version);
  std::string fingerprint = Fingerprint(dir);
  absl::StatusOr<LoadedBundle> loaded;
  try {
    loaded = Load(models_dir_, version, options_.exact_search);
  } catch (const std::exception& e) {  // a loader that throws is a bug; the bundle is still bad
    loaded = absl::InternalError(absl::StrCat("loading threw: ", e.what()));
  } catch (...) {
    loaded = absl::InternalError("loading threw an unknown exception");
  }
  if (loaded.ok()) {
    bundle_ = loaded->bundle;
    index_ = loaded->index;
    quarantined_.erase(version);
    std::fprintf(stderr, "model bundle %lld loaded from %s\n", static_cast<long long>(version), dir.c_str());
    return true;
  }
  quarantined_[version] = std::move(fingerprint);
  ++rejections_;
  std::fprintf(stderr, "model bundle %lld quarantined (not served, not retried until one of its files changes): %s\n",
               static_cast<long long>(version), loaded.status().ToString().c_str());
  return false;
}

absl::StatusOr<std::shared_ptr<const pipeline::FeedModel>> ModelUpdater::LoadInitial() {
  absl::MutexLock lock(&mu_);
  if (!models_dir_.empty()) {
    const std::vector<int64_t> versions = bundle::CompleteBundles(models_dir_);
    if (versions.empty()) VREC_RETURN_IF_ERROR(bundle::LatestCompleteBundle(models_dir_).status());
    for (auto it = versions.rbegin(); it != versions.rend() && bundle_ == nullptr; ++it) TryLoad(*it);
    if (bundle_ == nullptr) {
      return absl::FailedPreconditionError(absl::StrCat("no complete model bundle under ", models_dir_,
                                                        " loads (each failure is logged above)"));
    }
  }
  VREC_ASSIGN_OR_RETURN(retrieval::PopularitySnapshot popularity,
                        retrieval::BuildPopularitySnapshot(*store_, clock_->NowMs(), options_.popularity));
  return MakeModel(std::move(popularity));
}

void ModelUpdater::PublishMetrics(ServingMetrics& metrics) {
  absl::MutexLock lock(&mu_);
  PublishLocked(metrics);
}

void ModelUpdater::PublishLocked(ServingMetrics& metrics) {
  metrics.SetGauge("vrec_bundle_version", bundle_ != nullptr ? static_cast<double>(bundle_->version) : 0.0);
  metrics.SetGauge("vrec_bundle_quarantined", static_cast<double>(quarantined_.size()));
  metrics.Increment("vrec_bundle_rejected_total", rejections_ - rejections_reported_);
  rejections_reported_ = rejections_;
}

absl::Status ModelUpdater::RefreshOnce(FeedService* service) {
  absl::MutexLock lock(&mu_);
  try {
    return RefreshLocked(service);
  } catch (const std::exception& e) {
    service->metrics().Increment("vrec_model_refresh_failures_total");
    return absl::InternalError(absl::StrCat("model refresh threw: ", e.what()));
  } catch (...) {
    service->metrics().Increment("vrec_model_refresh_failures_total");
    return absl::InternalError("model refresh threw an unknown exception");
  }
}

absl::Status ModelUpdater::RefreshLocked(FeedService* service) {
  const auto start = std::chrono::steady_clock::now();
  if (!models_dir_.empty()) {
    const int64_t current = bundle_ != nullptr ? bundle_->version : 0;
    const std::vector<int64_t> versions = bundle::CompleteBundles(models_dir_);
    // The newest complete version above the current one that is not quarantined; when it fails,
    // the next newest, down to the current one.
    for (auto it = versions.rbegin(); it != versions.rend() && *it > current; ++it) {
      if (Quarantined(*it)) continue;
      if (TryLoad(*it)) {
        service->metrics().Increment("vrec_bundle_swaps_total");
        break;
      }
    }
  }
  PublishLocked(service->metrics());
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
