// Keeps the server's FeedModel current: at start-up it loads the newest complete bundle under
// the models directory that loads and checks (bundle/bundle.h: file digests, shapes, a smoke
// search and forward), and a popularity snapshot of the store; then every period it rebuilds
// the snapshot (trending moves with ingested events, new uploads reach the fresh source) and
// picks up a newer complete bundle. A bundle with a ranker (`vrec train-ranker`) is loaded and
// checked as one unit with its retrieval model and index.
//
// A bundle that fails never replaces the running one: it is quarantined, logged once, counted
// in /metrics (vrec_bundle_rejected_total, vrec_bundle_quarantined) and not retried until one of
// its files changes. Nothing a bundle holds can end the refresh thread or the process.
#ifndef VREC_SERVING_MODEL_UPDATER_H_
#define VREC_SERVING_MODEL_UPDATER_H_

#include <map>
#include <memory>
#include <string>
#include <thread>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/time.h"
#include "common/clock.h"
#include "featurestore/feature_store.h"
#include "bundle/bundle.h"
#include "serving/feed_service.h"

namespace vrec::serving {

class ModelUpdater {
 public:
  // `store`, `clock` and `service` (for SetModel and metrics) must outlive the updater.
  // An empty models_dir serves popularity only.
  ModelUpdater(const featurestore::FeatureStore* store, std::string models_dir, const Clock* clock,
               pipeline::FeedModelOptions options);
  ~ModelUpdater();

  // The first model: the newest complete bundle that loads (older ones are tried in turn when
  // newer ones fail; an error if models_dir has none that loads) and a fresh popularity snapshot.
  absl::StatusOr<std::shared_ptr<const pipeline::FeedModel>> LoadInitial();
  // Sets the bundle gauges (vrec_bundle_version, vrec_bundle_quarantined) in `metrics`.
  void PublishMetrics(ServingMetrics& metrics);
  // One refresh: a new snapshot, and a newer complete bundle if there is one. Swaps the result
  // into `service`. Errors leave the service's model as it was.
  absl::Status RefreshOnce(FeedService* service);
  // Calls RefreshOnce every `period` on a background thread until Stop or destruction.
  void Start(FeedService* service, absl::Duration period);
  // Ends the background thread (waiting for a refresh under way); idempotent. Call it before
  // the service passed to Start goes away.
  void Stop();

 private:
  const featurestore::FeatureStore* store_;
  std::string models_dir_;
  const Clock* clock_;
  pipeline::FeedModelOptions options_;
  std::shared_ptr<const pipeline::FeedModel> MakeModel(retrieval::PopularitySnapshot popularity)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Loads `version` into bundle_ and index_, or quarantines it. False when it failed.
  bool TryLoad(int64_t version) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Whether `version` failed before and none of its files has changed since.
  bool Quarantined(int64_t version) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::Status RefreshLocked(FeedService* service) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void PublishLocked(ServingMetrics& metrics) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  absl::Mutex mu_;  // serialises refreshes
  std::shared_ptr<const bundle::Bundle> bundle_ ABSL_GUARDED_BY(mu_);
  std::shared_ptr<const retrieval::VectorIndex> index_
      ABSL_GUARDED_BY(mu_);                            // the bundle's, or exact over its embeddings
  // By version: the bundle folder's fingerprint (file names, sizes, times) when it failed.
  std::map<int64_t, std::string> quarantined_ ABSL_GUARDED_BY(mu_);
  uint64_t rejections_ ABSL_GUARDED_BY(mu_) = 0;           // failed loads
  uint64_t rejections_reported_ ABSL_GUARDED_BY(mu_) = 0;  // of those, counted in metrics
  absl::Notification stop_;
  std::thread thread_;
};

}  // namespace vrec::serving

#endif  // VREC_SERVING_MODEL_UPDATER_H_
