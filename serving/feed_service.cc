#include "serving/feed_service.h"

#include <algorithm>
#include <chrono>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "common/json_writer.h"
#include "common/random.h"
#include "common/status.h"

namespace vrec {
namespace {

constexpr absl::string_view kFeedRoute = "/v1/feed";
// Decayed 1-day engagement below this (a tenth of one engagement, i.e. nothing in the last
// ~2 days) does not count as trending.
constexpr float kMinTrendingScore = 0.1f;

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

absl::StatusOr<std::shared_ptr<const FeedModel>> LoadFeedModel(const FeatureStore& store) {
  const TimestampMs as_of = store.as_of_ms();
  std::vector<float> trending, popular;
  VREC_RETURN_IF_ERROR(store.ForEachVideo([&](const VideoFeatures& v) {
    if (v.id >= trending.size()) {
      trending.resize(size_t{v.id} + 1, 0.0f);
      popular.resize(size_t{v.id} + 1, 0.0f);
    }
    const EngagementCounters& c = v.counters;
    const float recent = c.Day(kClicks, as_of) + c.Day(kWatches, as_of) + c.Day(kLikes, as_of);
    trending[v.id] = recent >= kMinTrendingScore ? recent : 0.0f;
    popular[v.id] = static_cast<float>(c.total[kClicks]);
    return absl::OkStatus();
  }));
  auto model = std::make_shared<FeedModel>();
  model->as_of_ms = as_of;
  model->version = absl::StrCat("popularity-", FormatTimestamp(as_of).substr(0, 10));
  model->trending = Trending::FromScores(std::move(trending));
  model->popular = Trending::FromScores(std::move(popular));
  return std::shared_ptr<const FeedModel>(std::move(model));
}

absl::StatusOr<FeedRequest> ParseFeedRequest(const HttpRequest& request,
                                             const FeedServiceOptions& options) {
  FeedRequest feed;
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
    feed.debug = *debug == "1" || *debug == "true";
  }
  for (const auto& [name, value] : request.params) {
    if (name != "user_id" && name != "count" && name != "exclude" && name != "debug") {
      return absl::InvalidArgumentError(absl::StrCat(
          "unknown parameter '", name, "' (allowed: user_id, count, exclude, debug)"));
    }
  }
  return feed;
}

FeedService::FeedService(const FeedServiceOptions& options, std::shared_ptr<const FeedModel> model,
                         const FeatureStore* store, EventIngestor* ingestor, const Clock* clock)
    : options_(options),
      model_(std::move(model)),
      store_(store),
      ingestor_(ingestor),
      clock_(clock),
      next_request_(SplitMix64(static_cast<uint64_t>(clock->NowMs())) << 16) {}

void FeedService::SetModel(std::shared_ptr<const FeedModel> model) {
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
    std::shared_ptr<const FeedModel> pinned = model();
    if (pinned == nullptr) return JsonError(503, "unavailable", "no model is loaded");
    JsonWriter w;
    w.BeginObject().Key("status").String("ready").Key("model_version").String(pinned->version).EndObject();
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
  return JsonError(404, "not_found", absl::StrCat("no such endpoint: ", request.path));
}

HttpResponse FeedService::Feed(const HttpRequest& request) {
  absl::StatusOr<FeedRequest> parsed = ParseFeedRequest(request, options_);
  if (!parsed.ok()) return StatusToResponse(parsed.status());
  const FeedRequest& feed = *parsed;
  std::shared_ptr<const FeedModel> pinned = model();
  if (pinned == nullptr) return JsonError(503, "unavailable", "no model is loaded");
  const FeedModel& m = *pinned;
  const TimestampMs now = clock_->NowMs();

  absl::StatusOr<UserRead> user = store_->GetUser(feed.user_id, now);
  if (!user.ok()) return StatusToResponse(user.status());
  const bool cold_start = user->profile == FeatureStatus::kMissing && user->history == FeatureStatus::kMissing;
  if (cold_start) metrics_.Increment("vrec_feed_cold_start_total");
  // Everything in the user's history is left out: watched, skipped or not interested.
  std::vector<VideoId> seen;
  seen.reserve(user->features.history.size());
  for (const HistoryEntry& h : user->features.history) seen.push_back(h.video_id);
  std::sort(seen.begin(), seen.end());
  auto excluded = [&](VideoId v) {
    return std::binary_search(feed.exclude.begin(), feed.exclude.end(), v);
  };
  std::vector<VideoId> items;
  items.reserve(feed.count);
  m.trending.Top(feed.count, seen, excluded, &items);
  const size_t from_trending = items.size();
  if (items.size() < feed.count) {
    const std::vector<VideoId> taken = items;
    m.popular.Top(feed.count - items.size(), seen,
                  [&](VideoId v) { return excluded(v) || std::find(taken.begin(), taken.end(), v) != taken.end(); },
                  &items);
  }
  std::vector<VideoRead> videos;
  if (absl::Status s = store_->GetVideos(items, now, &videos); !s.ok()) return StatusToResponse(s);
  const double top_trending = m.trending.ranked().empty() ? 1.0 : m.trending.count(m.trending.ranked()[0]);
  const double top_popular = m.popular.ranked().empty() ? 1.0 : m.popular.count(m.popular.ranked()[0]);

  const uint64_t request_id = next_request_.fetch_add(1);
  JsonWriter w;
  w.BeginObject();
  w.Key("request_id").String(absl::StrFormat("%016x", request_id));
  w.Key("model_version").String(m.version);
  w.Key("degraded").Bool(false);
  w.Key("user_id").Uint(feed.user_id);
  w.Key("cold_start").Bool(cold_start);
  w.Key("items").BeginArray();
  for (size_t i = 0; i < items.size(); ++i) {
    const VideoId v = items[i];
    const bool trending = i < from_trending;
    const double score = trending ? 1.0 + m.trending.count(v) / top_trending : m.popular.count(v) / top_popular;
    w.BeginObject();
    w.Key("video_id").Uint(v);
    w.Key("score").Double(score);
    w.Key("sources").BeginArray().String(trending ? "trending" : "popular").EndArray();
    if (!videos[i].features.category.empty()) w.Key("category").String(videos[i].features.category);
    if (feed.debug) {
      w.Key("debug").BeginObject();
      w.Key("source_score").Double(trending ? m.trending.count(v) : m.popular.count(v));
      w.Key("source_score_meaning").String(trending ? "decayed 1-day engagements" : "all-time clicks");
      w.Key("features").BeginObject();
      w.Key("metadata").String(FeatureStatusName(videos[i].metadata));
      w.Key("counters").String(FeatureStatusName(videos[i].counters));
      w.EndObject();
      w.Key("rules").BeginArray().String("drop_seen").String("drop_excluded").EndArray();
      w.EndObject();
    }
    w.EndObject();
  }
  w.EndArray();
  if (feed.debug) {
    w.Key("debug").BeginObject();
    w.Key("seen_excluded").Uint(seen.size());
    w.Key("request_excluded").Uint(feed.exclude.size());
    w.Key("user_features").BeginObject();
    w.Key("profile").String(FeatureStatusName(user->profile));
    w.Key("activity").String(FeatureStatusName(user->activity));
    w.Key("history").String(FeatureStatusName(user->history));
    w.EndObject();
    w.Key("model_as_of").String(FormatTimestamp(m.as_of_ms));
    w.EndObject();
  }
  w.EndObject();
  metrics_.Increment("vrec_feed_items_total", items.size());
  return JsonOk(w.Release());
}

HttpResponse FeedService::Events(const HttpRequest& request) {
  if (ingestor_ == nullptr) return JsonError(503, "unavailable", "event ingestion is not enabled on this server");
  absl::StatusOr<std::vector<Event>> events = ParseEventsJson(request.body, clock_->NowMs(), options_.events);
  if (!events.ok()) return StatusToResponse(events.status());
  // Every video must exist: one MultiGet for the batch.
  std::vector<VideoId> ids;
  for (const Event& e : *events) ids.push_back(e.video_id);
  std::vector<VideoFeatures> videos;
  std::vector<bool> found;
  if (absl::Status s = store_->GetVideoFeatures(ids, &videos, &found); !s.ok()) return StatusToResponse(s);
  for (size_t i = 0; i < ids.size(); ++i) {
    if (!found[i]) {
      return JsonError(400, "invalid_argument",
                       absl::StrCat(ids.size() > 1 ? absl::StrCat("events[", i, "]: ") : "", "unknown video_id ",
                                    ids[i]));
    }
  }
  const size_t count = events->size();
  if (absl::Status s = ingestor_->Ingest(std::move(*events)); !s.ok()) return StatusToResponse(s);
  metrics_.Increment("vrec_events_ingested_total", count);
  JsonWriter w;
  w.BeginObject().Key("accepted").Uint(count).Key("log_events").Uint(ingestor_->log_events()).EndObject();
  return JsonOk(w.Release());
}

}  // namespace vrec
