// The feed service: routes HTTP requests to handlers and builds the homepage feed.
//
// Request path today (the popularity skeleton): parse and validate the request, pin the
// current FeedModel, take the most engaged videos of the recent window (all-time popularity
// fills any gap), leave out what the user already watched and what the request excludes,
// answer JSON. Unknown users get the same feed (cold start), not an error. Later stages
// (feature store, two-tower retrieval, ranker) replace the model behind the same API.
//
// Routes: GET /v1/feed, GET /healthz, GET /readyz, GET /metrics; POST /v1/events answers 501
// until event ingestion exists. Unknown paths 404, wrong methods 405.
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
#include "common/world.h"
#include "featurestore/watch_history.h"
#include "retrieval/trending.h"
#include "serving/http_server.h"
#include "serving/metrics.h"

namespace vrec {

struct FeedModelOptions {
  // Trending window ending at the last logged event. Default 3 days.
  TimestampMs trending_window_ms = 3 * kMsPerDay;
};

// Everything one version of the feed needs. Immutable once loaded; shared by requests
// through shared_ptr<const FeedModel>.
struct FeedModel {
  std::string version;
  TimestampMs as_of_ms = 0;  // the last logged event
  Catalog catalog;
  Trending trending;  // recent window
  Trending popular;   // all time
  WatchHistory history;
};

// Reads a world (catalog and the whole event log). NotFound/InvalidArgument for a missing or
// malformed world, DataLoss for a corrupt log.
absl::StatusOr<std::shared_ptr<const FeedModel>> LoadFeedModel(const std::string& world_dir,
                                                              const FeedModelOptions& options);

struct FeedServiceOptions {
  uint32_t default_count = 20;   // items when `count` is absent
  uint32_t max_count = 200;      // larger `count` is a 400
  uint32_t max_exclude = 1000;   // longer `exclude` lists are a 400
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
class FeedService {
 public:
  FeedService(const FeedServiceOptions& options, std::shared_ptr<const FeedModel> model,
              const Clock* clock);

  // The HttpHandler.
  HttpResponse Handle(const HttpRequest& request);
  // Swaps in a new model; requests in flight keep the one they pinned.
  void SetModel(std::shared_ptr<const FeedModel> model);
  ServingMetrics& metrics() { return metrics_; }

 private:
  HttpResponse Route(const HttpRequest& request, std::string* route);
  HttpResponse Feed(const HttpRequest& request);
  std::shared_ptr<const FeedModel> model() const { return std::atomic_load(&model_); }

  FeedServiceOptions options_;
  std::shared_ptr<const FeedModel> model_;  // accessed with std::atomic_load/store
  const Clock* clock_;
  ServingMetrics metrics_;
  std::atomic<uint64_t> next_request_;
};

}  // namespace vrec

#endif  // VREC_SERVING_FEED_SERVICE_H_
