// The feed service: routes HTTP requests to handlers, builds the homepage feed and takes in
// events.
//
// Request path: parse and validate the request, pin the current FeedModel, read the user's
// features (one RocksDB Get), retrieve candidates from every source (retrieval/candidates.h)
// minus what the user watched, skipped or excluded, read all candidates' and the history's
// video features (one MultiGet, or the in-memory cache), score every candidate in one batched
// ranker forward (ranking/ranker.h), re-rank (ranking/reranker.h: freshness, diversity,
// exploration), answer JSON and append the feed to the impression log. A bundle without a
// ranker serves the best candidates by retrieval score. Unknown users are cold-start users
// (the towers still run on request context), not an error. A failing candidate source makes
// the response `degraded`, never an error.
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
#include "retrieval/bundle.h"
#include "retrieval/candidates.h"
#include "ranking/ranker.h"
#include "ranking/reranker.h"
#include "retrieval/popularity.h"
#include "serving/event_ingestor.h"
#include "serving/impression_log.h"
#include "serving/event_json.h"
#include "serving/http_server.h"
#include "serving/metrics.h"

namespace vrec {

// Everything one version of the feed needs besides the live feature store: the retrieval
// bundle (optional; without it the feed is popularity only) and the popularity snapshot,
// wired into one Retriever. Immutable once built; requests pin it through
// shared_ptr<const FeedModel>.
struct FeedModel {
  std::string version;  // the bundle version, or "popularity-<date>" without a bundle
  PopularitySnapshot popularity;
  std::shared_ptr<const RetrievalBundle> bundle;  // null: popularity sources only
  std::shared_ptr<const RankerModel> ranker;      // null: order by retrieval score
  std::unique_ptr<Retriever> retriever;
  RerankOptions rerank;
};

struct FeedModelOptions {
  RetrieverOptions retriever;
  PopularityOptions popularity;
  int item_to_item_seeds = 5;   // last engaged videos expanded by item-to-item
  size_t fresh_pool = 2000;     // newest uploads the fresh source considers
  RerankOptions rerank;         // applied after the ranker
};

// Wires `bundle` and `ranker` (either may be null) and `popularity` into a FeedModel.
std::shared_ptr<const FeedModel> MakeFeedModel(std::shared_ptr<const RetrievalBundle> bundle,
                                               std::shared_ptr<const RankerModel> ranker,
                                               PopularitySnapshot popularity, const FeedModelOptions& options);
// A popularity-only model from the store as of `now_ms` (tests, servers without bundles).
absl::StatusOr<std::shared_ptr<const FeedModel>> LoadFeedModel(const FeatureStore& store, TimestampMs now_ms,
                                                               const FeedModelOptions& options = FeedModelOptions());

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
  Device device = Device::kUnknown;
};

// InvalidArgument naming the parameter and what is allowed.
absl::StatusOr<FeedRequest> ParseFeedRequest(const HttpRequest& request,
                                             const FeedServiceOptions& options);

// Thread-safe: Handle() runs on all server threads; SetModel() may run concurrently.
// `store`, `ingestor` and `impressions` are not owned and must outlive the service; a null
// ingestor makes POST /v1/events answer 503; a null impression log logs nothing.
class FeedService {
 public:
  FeedService(const FeedServiceOptions& options, std::shared_ptr<const FeedModel> model,
              const FeatureStore* store, EventIngestor* ingestor, const Clock* clock,
              ImpressionLog* impressions = nullptr);

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
  ImpressionLog* impressions_;
  ServingMetrics metrics_;
  std::atomic<uint64_t> next_request_;
};

}  // namespace vrec

#endif  // VREC_SERVING_FEED_SERVICE_H_
