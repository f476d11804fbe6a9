// The feed service: routes HTTP requests to handlers, builds the homepage feed and takes in
// events.
//
// Request path today (the popularity skeleton): parse and validate the request, pin the
// current FeedModel, read the user's features (one RocksDB MultiGet), take the most engaged
// videos of the last day (decayed counts; all-time popularity fills any gap) minus what the
// user watched, skipped-as-not-interested or excluded, read those videos' features (one
// MultiGet), answer JSON. Unknown users get the same feed (cold start), not an error.
//
// Routes: GET /v1/feed, POST /v1/events, GET /healthz, GET /readyz, GET /metrics. Unknown
// paths 404, wrong methods 405.
#ifndef VREC_SERVING_FEED_SERVICE_H_
#define VREC_SERVING_FEED_SERVICE_H_

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "common/clock.h"
#include "common/types.h"
#include "featurestore/feature_store.h"
#include "retrieval/trending.h"
#include "serving/event_ingestor.h"
#include "serving/event_json.h"
#include "serving/http_server.h"
#include "serving/metrics.h"

namespace vrec {

// Everything one version of the feed needs besides the live feature store. Immutable once
// loaded; shared by requests through shared_ptr<const FeedModel>.
struct FeedModel {
  std::string version;
  TimestampMs as_of_ms = 0;  // the store's latest event when the model was built
  Trending trending;  // decayed 1-day engagement (clicks, watches, likes)
  Trending popular;   // all-time clicks
};

// Ranks the store's videos. DataLoss for a corrupt store.
absl::StatusOr<std::shared_ptr<const FeedModel>> LoadFeedModel(const FeatureStore& store);

struct FeedServiceOptions {
  uint32_t default_count = 20;   // items when `count` is absent
  uint32_t max_count = 200;      // larger `count` is a 400
  uint32_t max_exclude = 1000;   // longer `exclude` lists are a 400
  EventJsonOptions events;       // POST /v1/events limits
};

// A validated GET /v1/feed request.
struct FeedRequest {
  UserId user_id = 0;
  uint32_t count = 0;
  std::vector<VideoId> exclude;  // sorted, unique
  bool debug = false;
};

// InvalidArgument naming the parameter and what is allowed.
absl::StatusOr<FeedRequest> ParseFeedRequest(const HttpRequest& request,
                                             const FeedServiceOptions& options);

// Thread-safe: Handle() runs on all server threads; SetModel() may run concurrently.
// `store` and `ingestor` are not owned and must outlive the service; a null ingestor makes
// POST /v1/events answer 503.
class FeedService {
 public:
  FeedService(const FeedServiceOptions& options, std::shared_ptr<const FeedModel> model,
              const FeatureStore* store, EventIngestor* ingestor, const Clock* clock);

  // The HttpHandler.
  HttpResponse Handle(const HttpRequest& request);
  // Swaps in a new model; requests in flight keep the one they pinned.
  void SetModel(std::shared_ptr<const FeedModel> model);
  ServingMetrics& metrics() { return metrics_; }

 private:
  HttpResponse Route(const HttpRequest& request, std::string* route);
  HttpResponse Feed(const HttpRequest& request);
  HttpResponse Events(const HttpRequest& request);
  std::shared_ptr<const FeedModel> model() const { return std::atomic_load(&model_); }

  FeedServiceOptions options_;
  std::shared_ptr<const FeedModel> model_;  // accessed with std::atomic_load/store
  const FeatureStore* store_;
  EventIngestor* ingestor_;
  const Clock* clock_;
  ServingMetrics metrics_;
  std::atomic<uint64_t> next_request_;
};

}  // namespace vrec

#endif  // VREC_SERVING_FEED_SERVICE_H_
