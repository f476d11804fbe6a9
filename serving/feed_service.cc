#include "serving/feed_service.h"

#include <algorithm>
#include <array>
#include <chrono>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "common/json_writer.h"
#include "common/random.h"
#include "common/status.h"

namespace vrec::serving {
namespace {

constexpr absl::string_view kFeedRoute = "/v1/feed";

HttpResponse JsonOk(std::string body) {
  HttpResponse r;
  r.body = std::move(body);
  return r;
}

HttpResponse MethodNotAllowed(const HttpRequest& request, absl::string_view allowed) {
  HttpResponse r = JsonError(405, "method_not_allowed",
                             absl::StrCat(request.method, " is not allowed on ", request.path,
                                          " (allowed: ", allowed, ")"));
  r.headers.emplace_back("Allow", std::string(allowed));
  return r;
}

}  // namespace

absl::StatusOr<FeedHttpRequest> ParseFeedRequest(const HttpRequest& request, const FeedServiceOptions& options) {
  FeedHttpRequest parsed;
  pipeline::FeedRequest& feed = parsed.feed;
  const std::string* user = request.Param("user_id");
  if (user == nullptr || user->empty()) {
    return absl::InvalidArgumentError("missing required parameter user_id");
  }
  if (!absl::SimpleAtoi(*user, &feed.user_id) || feed.user_id == kInvalidId) {
    return absl::InvalidArgumentError(
        absl::StrCat("user_id must be an integer in [0, ", kInvalidId - 1, "], got '", *user, "'"));
  }
  feed.count = options.default_count;
  if (const std::string* count = request.Param("count"); count != nullptr) {
    if (!absl::SimpleAtoi(*count, &feed.count) || feed.count < 1 || feed.count > options.max_count) {
      return absl::InvalidArgumentError(
          absl::StrCat("count must be an integer in [1, ", options.max_count, "], got '", *count, "'"));
    }
  }
  if (const std::string* exclude = request.Param("exclude"); exclude != nullptr) {
    for (absl::string_view id : absl::StrSplit(*exclude, ',', absl::SkipEmpty())) {
      VideoId video;
      if (!absl::SimpleAtoi(id, &video) || video == kInvalidId) {
        return absl::InvalidArgumentError(
            absl::StrCat("exclude must be comma-separated video ids, got '", id, "'"));
      }
      feed.exclude.push_back(video);
    }
    if (feed.exclude.size() > options.max_exclude) {
      return absl::InvalidArgumentError(
          absl::StrCat("exclude lists at most ", options.max_exclude, " videos"));
    }
    std::sort(feed.exclude.begin(), feed.exclude.end());
    feed.exclude.erase(std::unique(feed.exclude.begin(), feed.exclude.end()), feed.exclude.end());
  }
  if (const std::string* debug = request.Param("debug"); debug != nullptr) {
    if (*debug != "0" && *debug != "1" && *debug != "true" && *debug != "false") {
      return absl::InvalidArgumentError(absl::StrCat("debug must be 0 or 1, got '", *debug, "'"));
    }
    parsed.debug = *debug == "1" || *debug == "true";
  }
  if (const std::string* device = request.Param("device"); device != nullptr) {
    absl::StatusOr<Device> parsed = ParseDevice(*device);
    if (!parsed.ok()) return absl::InvalidArgumentError(absl::StrCat("device: ", parsed.status().message()));
    feed.device = *parsed;
  }
  for (const auto& [name, value] : request.params) {
    if (name != "user_id" && name != "count" && name != "exclude" && name != "debug" && name != "device") {
      return absl::InvalidArgumentError(absl::StrCat(
          "unknown parameter '", name, "' (allowed: user_id, count, exclude, debug, device)"));
    }
  }
  return parsed;
}

std::string FeedResultJson(const pipeline::FeedResult& result, uint64_t request_id, UserId user_id, bool debug) {
  JsonWriter w;
  w.BeginObject();
  w.Key("request_id").String(absl::StrFormat("%016x", request_id));
  w.Key("model_version").String(result.model_version);
  w.Key("degraded").Bool(!result.degraded.empty());
  w.Key("user_id").Uint(user_id);
  w.Key("cold_start").Bool(result.cold_start);
  w.Key("ranked").Bool(result.ranked);
  w.Key("fused").Bool(result.fused);
  if (debug) {
    w.Key("candidates").Uint(result.candidates.size());
    w.Key("timings_ms").BeginObject();
    for (int i = 0; i < pipeline::kNumFeedStages; ++i) w.Key(pipeline::FeedStageName(i)).Double(result.stage_ms[i], 3);
    w.EndObject();
  }
  if (result.ranked) {
    w.Key("score_weights").BeginObject();
    for (int h = 0; h < ranking::kNumRankerHeads; ++h)
      w.Key(ranking::RankerHeadName(h)).Double(result.score_weights[h]);
    w.EndObject();
  }
  w.Key("items").BeginArray();
  for (const pipeline::FeedItem& item : result.items) {
    const retrieval::Candidate& c = result.candidates[item.why.candidate];
    w.BeginObject();
    w.Key("video_id").Uint(item.video);
    w.Key("score").Double(item.score);
    w.Key("sources").BeginArray();
    for (int s = 0; s < retrieval::kNumSources; ++s) {
      if (c.from(static_cast<retrieval::SourceId>(s)))
        w.String(retrieval::SourceName(static_cast<retrieval::SourceId>(s)));
    }
    w.EndArray();
    if (!item.category.empty()) w.Key("category").String(item.category);
    if (debug) {
      const pipeline::ItemExplanation& why = item.why;
      w.Key("debug").BeginObject();
      w.Key("retrieval_score").Double(c.score);
      w.Key("score_kind").String(c.embedded ? "two_tower_inner_product" : "reciprocal_rank_fusion");
      w.Key("source_scores").BeginObject();
      for (int s = 0; s < retrieval::kNumSources; ++s) {
        if (c.from(static_cast<retrieval::SourceId>(s)))
          w.Key(retrieval::SourceName(static_cast<retrieval::SourceId>(s))).Double(c.source_score[s]);
      }
      w.EndObject();
      w.Key("source_ranks").BeginObject();
      for (int s = 0; s < retrieval::kNumSources; ++s) {
        if (c.from(static_cast<retrieval::SourceId>(s)))
          w.Key(retrieval::SourceName(static_cast<retrieval::SourceId>(s))).Uint(c.source_rank[s]);
      }
      w.EndObject();
      if (result.fused) w.Key("fusion_score").Double(why.fusion_score);
      if (why.ranked) {
        w.Key("heads").BeginObject();
        for (int h = 0; h < ranking::kNumRankerHeads; ++h) w.Key(ranking::RankerHeadName(h)).Double(why.heads[h]);
        w.EndObject();
        w.Key("ranker_score").Double(why.ranker_score);
        // Every source's evidence the ranker saw for this video, whichever source proposed it.
        w.Key("source_signals").BeginObject();
        if (why.signals.has_item_to_item) w.Key("item_to_item").Double(why.signals.item_to_item);
        w.Key("trending_rank").Uint(why.signals.trending_rank);
        w.Key("popular_rank").Uint(why.signals.popular_rank);
        w.Key("freshness").Double(why.freshness);
        w.EndObject();
      }
      w.Key("propensity").Double(why.propensity);
      w.Key("features").BeginObject();
      w.Key("metadata").String(featurestore::FeatureStatusName(why.metadata));
      w.Key("counters").String(featurestore::FeatureStatusName(why.counters));
      w.EndObject();
      w.Key("rules").BeginArray().String("drop_seen").String("drop_excluded");
      if (why.rules & ranking::kRuleFreshnessBoost) w.String("freshness_boost");
      if (why.rules & ranking::kRuleDiversity) w.String("diversity_deferred");
      if (why.rules & ranking::kRuleDiversityRelaxed) w.String("diversity_relaxed");
      if (why.rules & ranking::kRuleExplore) w.String("exploration");
      w.EndArray();
      w.EndObject();
    }
    w.EndObject();
  }
  w.EndArray();
  if (debug) {
    w.Key("debug").BeginObject();
    w.Key("seen_excluded").Uint(result.seen_excluded);
    w.Key("request_excluded").Uint(result.request_excluded);
    w.Key("candidates").Uint(result.candidates.size());
    w.Key("source_candidates").BeginObject();
    for (int s = 0; s < retrieval::kNumSources; ++s)
      w.Key(retrieval::SourceName(static_cast<retrieval::SourceId>(s))).Uint(result.produced[s]);
    w.EndObject();
    w.Key("source_failures").BeginArray();
    for (const retrieval::SourceFailure& f : result.source_failures) {
      w.BeginObject()
          .Key("source")
          .String(retrieval::SourceName(f.source))
          .Key("error")
          .String(f.status.ToString())
          .EndObject();
    }
    w.EndArray();
    w.Key("degraded_reasons").BeginArray();
    for (const std::string& reason : result.degraded) w.String(reason);
    w.EndArray();
    if (!result.ranker_status.ok()) w.Key("ranker_error").String(result.ranker_status.ToString());
    w.Key("user_features").BeginObject();
    w.Key("profile").String(featurestore::FeatureStatusName(result.profile));
    w.Key("activity").String(featurestore::FeatureStatusName(result.activity));
    w.Key("history").String(featurestore::FeatureStatusName(result.history));
    w.EndObject();
    w.Key("popularity_as_of").String(FormatTimestamp(result.popularity_as_of_ms));
    w.Key("now").String(FormatTimestamp(result.now_ms));
    w.EndObject();
  }
  w.EndObject();
  return w.Release();
}

FeedService::FeedService(const FeedServiceOptions& options, std::shared_ptr<const pipeline::FeedModel> model,
                         const featurestore::FeatureStore* store, EventIngestor* ingestor, const Clock* clock,
                         ImpressionLog* impressions)
    : options_(options),
      model_(std::move(model)),
      store_(store),
      ingestor_(ingestor),
      clock_(clock),
      impressions_(impressions),
      next_request_(SplitMix64(static_cast<uint64_t>(clock->NowMs())) << 16) {}

void FeedService::SetModel(std::shared_ptr<const pipeline::FeedModel> model) {
  std::atomic_store(&model_, std::move(model));
}

HttpResponse FeedService::Handle(const HttpRequest& request) {
  const auto start = std::chrono::steady_clock::now();
  std::string route = "other";
  HttpResponse response = Route(request, &route);
  metrics_.RecordRequest(route, response.status,
                         std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
  return response;
}

HttpResponse FeedService::Route(const HttpRequest& request, std::string* route) {
  const bool get = request.method == "GET" || request.method == "HEAD";
  if (request.path == kFeedRoute) {
    *route = request.path;
    return get ? Feed(request) : MethodNotAllowed(request, "GET");
  }
  if (request.path == "/healthz") {
    *route = request.path;
    return get ? JsonOk(R"({"status":"ok"})") : MethodNotAllowed(request, "GET");
  }
  if (request.path == "/readyz") {
    *route = request.path;
    if (!get) return MethodNotAllowed(request, "GET");
    std::shared_ptr<const pipeline::FeedModel> pinned = model();
    if (pinned == nullptr) return StatusToResponse(absl::UnavailableError("no model is loaded"));
    // Ingestion that needs a restart makes the server unready: events posted to it are refused.
    if (ingestor_ != nullptr) {
      if (absl::Status health = ingestor_->health(); !health.ok()) {
        return StatusToResponse(absl::UnavailableError(absl::StrCat("ingestion is down: ", health.message())));
      }
    }
    JsonWriter w;
    w.BeginObject().Key("status").String("ready").Key("model_version").String(pinned->version);
    w.Key("ingestion").String(ingestor_ != nullptr ? "ok" : "off").EndObject();
    return JsonOk(w.Release());
  }
  if (request.path == "/metrics") {
    *route = request.path;
    if (!get) return MethodNotAllowed(request, "GET");
    HttpResponse r;
    r.content_type = "text/plain; version=0.0.4";
    r.body = metrics_.RenderPrometheus();
    return r;
  }
  if (request.path == "/v1/events") {
    *route = request.path;
    return request.method == "POST" ? Events(request) : MethodNotAllowed(request, "POST");
  }
  return StatusToResponse(absl::NotFoundError(absl::StrCat("no such endpoint: ", request.path)));
}

HttpResponse FeedService::Feed(const HttpRequest& request) {
  absl::StatusOr<FeedHttpRequest> parsed = ParseFeedRequest(request, options_);
  if (!parsed.ok()) return StatusToResponse(parsed.status());
  std::shared_ptr<const pipeline::FeedModel> pinned = model();
  if (pinned == nullptr) return StatusToResponse(absl::UnavailableError("no model is loaded"));
  pipeline::FeedRequest& feed = parsed->feed;
  feed.now_ms = clock_->NowMs();
  feed.request_id = next_request_.fetch_add(1);
  absl::StatusOr<pipeline::FeedResult> result = pipeline::Recommend(feed, *store_, *pinned);
  if (!result.ok()) return StatusToResponse(result.status());
  if (result->cold_start) metrics_.Increment("vrec_feed_cold_start_total");
  for (const retrieval::SourceFailure& f : result->source_failures) {
    metrics_.Increment(absl::StrCat("vrec_source_failures_total{source=\"", retrieval::SourceName(f.source), "\"}"));
  }
  if (!result->ranker_status.ok()) metrics_.Increment("vrec_ranker_failures_total");
  if (!result->degraded.empty()) metrics_.Increment("vrec_feed_degraded_total");
  metrics_.Increment("vrec_feed_items_total", result->items.size());
  if (impressions_ != nullptr) {
    data::ServedFeed logged;
    logged.request_id = feed.request_id;
    logged.time_ms = feed.now_ms;
    logged.user_id = feed.user_id;
    logged.model_version = result->model_version;
    for (size_t p = 0; p < result->items.size(); ++p) {
      const pipeline::FeedItem& item = result->items[p];
      logged.items.push_back({item.video, static_cast<uint16_t>(p), item.score, item.why.propensity});
    }
    if (!impressions_->Append(logged).ok()) metrics_.Increment("vrec_impression_log_failures_total");
  }
  return JsonOk(FeedResultJson(*result, feed.request_id, feed.user_id, parsed->debug));
}

HttpResponse FeedService::Events(const HttpRequest& request) {
  if (ingestor_ == nullptr) {
    return StatusToResponse(absl::UnavailableError("event ingestion is not enabled on this server"));
  }
  absl::StatusOr<EventBatch> batch = ParseEventsJson(request.body, clock_->NowMs(), options_.events);
  if (!batch.ok()) return StatusToResponse(batch.status());
  // Every video must exist: one MultiGet for the batch.
  std::vector<VideoId> ids;
  for (const Event& e : batch->events) ids.push_back(e.video_id);
  std::vector<featurestore::VideoFeatures> videos;
  std::vector<bool> found;
  if (absl::Status s = store_->GetVideoFeatures(ids, &videos, &found); !s.ok()) return StatusToResponse(s);
  for (size_t i = 0; i < ids.size(); ++i) {
    if (!found[i]) {
      return StatusToResponse(absl::InvalidArgumentError(
          absl::StrCat(ids.size() > 1 ? absl::StrCat("events[", i, "]: ") : "", "unknown video_id ", ids[i])));
    }
  }
  const size_t count = batch->events.size();
  size_t duplicates = 0;
  if (absl::Status s = ingestor_->Ingest(std::move(batch->events), std::move(batch->event_ids), &duplicates); !s.ok()) {
    return StatusToResponse(s);
  }
  metrics_.Increment("vrec_events_ingested_total", count - duplicates);
  if (duplicates > 0) metrics_.Increment("vrec_events_duplicate_total", duplicates);
  JsonWriter w;
  w.BeginObject()
      .Key("accepted")
      .Uint(count)
      .Key("duplicates")
      .Uint(duplicates)
      .Key("log_events")
      .Uint(ingestor_->log_events())
      .EndObject();
  return JsonOk(w.Release());
}

HttpLane FeedServiceLane(const HttpRequest& request) {
  if (request.path == "/healthz" || request.path == "/readyz" || request.path == "/metrics") return HttpLane::kInline;
  if (request.path == "/v1/events") return HttpLane::kIngest;
  return HttpLane::kWork;
}

void PublishServerStats(const HttpServerStats& stats, ServingMetrics& metrics) {
  metrics.SetGauge("vrec_http_connections", static_cast<double>(stats.connections));
  metrics.SetGauge("vrec_http_overload_rejections{reason=\"queue_full\"}", static_cast<double>(stats.shed_queue_full));
  metrics.SetGauge("vrec_http_overload_rejections{reason=\"deadline\"}", static_cast<double>(stats.shed_deadline));
  metrics.SetGauge("vrec_http_overload_rejections{reason=\"connections\"}",
                   static_cast<double>(stats.shed_connections));
}

}  // namespace vrec::serving
