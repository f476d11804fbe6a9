// The feed service: routes HTTP requests to handlers. It only adapts HTTP to the rest of the
// system: GET /v1/feed parses and validates the request, pins the current FeedModel, calls the
// pipeline (pipeline/recommender.h) with the feature store as its FeatureView, writes the
// FeedResult as JSON (with debug=1, every item's explanation, the per-stage timings and the
// degraded reasons) and appends the served feed to the impression log. POST /v1/events parses
// events and hands them to the ingestor. Status codes become HTTP codes in one place
// (StatusToResponse, serving/http_server.h).
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
#include "pipeline/recommender.h"
#include "serving/event_ingestor.h"
#include "serving/impression_log.h"
#include "serving/event_json.h"
#include "serving/http_server.h"
#include "serving/metrics.h"

namespace vrec::serving {

struct FeedServiceOptions {
  uint32_t default_count = 20;   // items when `count` is absent
  uint32_t max_count = 200;      // larger `count` is a 400
  uint32_t max_exclude = 1000;   // longer `exclude` lists are a 400
  EventJsonOptions events;       // POST /v1/events limits
};

// A validated GET /v1/feed request: the pipeline's request (its time and id are set when it
// runs) and how to render the answer.
struct FeedHttpRequest {
  pipeline::FeedRequest feed;
  bool debug = false;  // explain every item
};

// InvalidArgument naming the parameter and what is allowed.
absl::StatusOr<FeedHttpRequest> ParseFeedRequest(const HttpRequest& request, const FeedServiceOptions& options);

// The JSON body of GET /v1/feed for `result` (see README, HTTP API).
std::string FeedResultJson(const pipeline::FeedResult& result, uint64_t request_id, UserId user_id, bool debug);

// The HTTP lane of each route (serving/http_server.h): health checks and metrics answer on the
// I/O threads, off the saturated path; event posts wait on fsync in their own lane; feeds and
// everything else run on the work lane.
HttpLane FeedServiceLane(const HttpRequest& request);

// Publishes the HTTP server's overload counters as gauges (vrec_http_connections,
// vrec_http_overload_rejections{reason=...}).
void PublishServerStats(const HttpServerStats& stats, ServingMetrics& metrics);

// Thread-safe: Handle() runs on all server threads; SetModel() may run concurrently.
// `store`, `ingestor` and `impressions` are not owned and must outlive the service; a null
// ingestor makes POST /v1/events answer 503; a null impression log logs nothing.
class FeedService {
 public:
  FeedService(const FeedServiceOptions& options, std::shared_ptr<const pipeline::FeedModel> model,
              const featurestore::FeatureStore* store, EventIngestor* ingestor, const Clock* clock,
              ImpressionLog* impressions = nullptr);

  // The HttpHandler.
  HttpResponse Handle(const HttpRequest& request);
  // Swaps in a new model; requests in flight keep the one they pinned.
  void SetModel(std::shared_ptr<const pipeline::FeedModel> model);
  ServingMetrics& metrics() { return metrics_; }

 private:
  HttpResponse Route(const HttpRequest& request, std::string* route);
  HttpResponse Feed(const HttpRequest& request);
  HttpResponse Events(const HttpRequest& request);
  std::shared_ptr<const pipeline::FeedModel> model() const { return std::atomic_load(&model_); }

  FeedServiceOptions options_;
  std::shared_ptr<const pipeline::FeedModel> model_;  // accessed with std::atomic_load/store
  const featurestore::FeatureStore* store_;
  EventIngestor* ingestor_;
  const Clock* clock_;
  ImpressionLog* impressions_;
  ServingMetrics metrics_;
  std::atomic<uint64_t> next_request_;
};

}  // namespace vrec::serving

#endif  // VREC_SERVING_FEED_SERVICE_H_
