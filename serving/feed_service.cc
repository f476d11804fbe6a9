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
#include "featurestore/transforms.h"
#include "ranking/cross_features.h"

namespace vrec {
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

// Fills heads[i * kNumRankerHeads + h] for every candidate: the ranker's inputs are built in
// thread-local buffers (no allocation per candidate) and scored in one forward. `videos` holds
// the candidates' features followed by the user's history videos' (for their creators). The
// source signals come from the model's index (item-to-item similarity to the user's engaged
// seeds) and its popularity snapshot (trending and popular ranks).
absl::Status RankCandidates(const FeedModel& m, const UserFeatures& user, const FeatureContext& context,
                            const std::vector<Candidate>& candidates, const std::vector<VideoRead>& videos,
                            std::vector<CrossInputs>* cross, std::vector<float>* heads) {
  const RankerModel& ranker = *m.ranker;
  const TransformOptions& t = ranker.config().transform;
  thread_local std::vector<CreatorId> creators;
  creators.clear();
  for (size_t i = candidates.size(); i < videos.size(); ++i) creators.push_back(videos[i].features.creator_id);
  const UserCrossContext cross_context(user, creators);
  const HnswIndex* index = m.retriever->index();
  thread_local std::vector<VideoId> seed_ids;
  thread_local std::vector<const float*> seeds;
  EngagedSeeds(user, &seed_ids);
  seeds.clear();
  if (index != nullptr) {
    for (VideoId v : seed_ids) seeds.push_back(index->Embedding(v));
  }
  thread_local std::vector<VideoInputs> inputs;
  inputs.resize(candidates.size());
  cross->resize(candidates.size());
  for (size_t i = 0; i < candidates.size(); ++i) {
    const Candidate& c = candidates[i];
    SourceSignals signals;
    signals.retrieval_score = c.score;
    signals.has_retrieval_score = c.embedded;
    if (index != nullptr) {
      signals.has_item_to_item = ItemToItemScore(seeds, index->Embedding(c.video), index->dim(), &signals.item_to_item);
    }
    if (m.popularity.trending != nullptr) signals.trending_rank = m.popularity.trending->rank(c.video);
    if (m.popularity.popular != nullptr) signals.popular_rank = m.popularity.popular->rank(c.video);
    inputs[i] = TransformVideo(videos[i].features, context, t);
    (*cross)[i] = cross_context.Make(videos[i].features, context.now_ms, signals);
  }
  heads->resize(candidates.size() * kNumRankerHeads);
  return ranker.Score(TransformUser(user, context, t), inputs, *cross, heads->data());
}

}  // namespace

std::shared_ptr<const FeedModel> MakeFeedModel(std::shared_ptr<const RetrievalBundle> bundle,
                                               std::shared_ptr<const RankerModel> ranker,
                                               PopularitySnapshot popularity, const FeedModelOptions& options) {
  auto model = std::make_shared<FeedModel>();
  std::vector<std::unique_ptr<CandidateSource>> sources;
  const HnswIndex* index = bundle != nullptr ? bundle->index.get() : nullptr;
  if (index != nullptr) {
    sources.push_back(MakeTwoTowerSource(index));
    sources.push_back(MakeItemToItemSource(index, options.item_to_item_seeds));
  }
  sources.push_back(MakeTrendingSource(popularity.trending, kSourceTrending));
  sources.push_back(MakeFreshSource(popularity.fresh, options.popularity.fresh_window_ms, options.fresh_pool, index));
  sources.push_back(MakeTrendingSource(popularity.popular, kSourcePopular));
  model->version = bundle != nullptr ? absl::StrCat(bundle->version)
                                     : absl::StrCat("popularity-", FormatTimestamp(popularity.as_of_ms).substr(0, 10));
  model->retriever = std::make_unique<Retriever>(options.retriever, bundle ? bundle->model : nullptr,
                                                 bundle ? bundle->index : nullptr, std::move(sources));
  model->popularity = std::move(popularity);
  model->bundle = std::move(bundle);
  model->ranker = std::move(ranker);
  model->rerank = options.rerank;
  return model;
}

absl::StatusOr<std::shared_ptr<const FeedModel>> LoadFeedModel(const FeatureStore& store, TimestampMs now_ms,
                                                               const FeedModelOptions& options) {
  VREC_ASSIGN_OR_RETURN(PopularitySnapshot popularity, BuildPopularitySnapshot(store, now_ms, options.popularity));
  return MakeFeedModel(nullptr, nullptr, std::move(popularity), options);
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
  return feed;
}

FeedService::FeedService(const FeedServiceOptions& options, std::shared_ptr<const FeedModel> model,
                         const FeatureStore* store, EventIngestor* ingestor, const Clock* clock,
                         ImpressionLog* impressions)
    : options_(options),
      model_(std::move(model)),
      store_(store),
      ingestor_(ingestor),
      clock_(clock),
      impressions_(impressions),
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
  // Stage timings, reported with debug=1: user read, retrieval, video reads, ranker, re-rank.
  using Clock = std::chrono::steady_clock;
  std::array<Clock::time_point, 6> marks;
  marks.fill(Clock::now());

  absl::StatusOr<UserRead> user = store_->GetUser(feed.user_id, now);
  marks[1] = Clock::now();
  if (!user.ok()) return StatusToResponse(user.status());
  const bool cold_start = user->profile == FeatureStatus::kMissing && user->history == FeatureStatus::kMissing;
  if (cold_start) metrics_.Increment("vrec_feed_cold_start_total");
  // Never shown: everything in the user's history (watched, skipped, not interested) and the
  // request's exclusions.
  thread_local std::vector<VideoId> skip;
  skip.assign(feed.exclude.begin(), feed.exclude.end());
  for (const HistoryEntry& h : user->features.history) skip.push_back(h.video_id);
  std::sort(skip.begin(), skip.end());
  skip.erase(std::unique(skip.begin(), skip.end()), skip.end());

  thread_local RetrievalResult retrieved;
  m.retriever->Retrieve(user->features, FeatureContext{now, feed.device}, skip, &retrieved);
  marks[2] = marks[3] = marks[4] = marks[5] = Clock::now();
  for (const SourceFailure& f : retrieved.failures) {
    metrics_.Increment(absl::StrCat("vrec_source_failures_total{source=\"", SourceName(f.source), "\"}"));
  }
  // Stage two: every candidate through the ranker in one batch, then re-ranking. Without a
  // ranker (or if it fails) the best candidates by retrieval score are served as they are.
  const uint64_t request_id = next_request_.fetch_add(1);
  const std::vector<Candidate>& candidates = retrieved.candidates;
  thread_local std::vector<VideoId> ids;
  thread_local std::vector<VideoRead> videos;
  thread_local std::vector<float> heads;
  thread_local std::vector<CrossInputs> cross;
  thread_local std::vector<RerankedItem> served;
  bool ranked = false;
  absl::Status ranker_status;
  if (m.ranker != nullptr && !candidates.empty()) {
    ids.clear();
    for (const Candidate& c : candidates) ids.push_back(c.video);
    for (const HistoryEntry& h : user->features.history) ids.push_back(h.video_id);  // for their creators
    if (absl::Status s = store_->GetVideos(ids, now, &videos); !s.ok()) return StatusToResponse(s);
    marks[3] = Clock::now();
    absl::Status scored = RankCandidates(m, user->features, FeatureContext{now, feed.device}, candidates,
                                         videos, &cross, &heads);
    marks[4] = marks[5] = Clock::now();
    if (scored.ok()) {
      thread_local std::vector<RerankInput> rerank;
      rerank.resize(candidates.size());
      for (size_t i = 0; i < candidates.size(); ++i) {
        const VideoFeatures& v = videos[i].features;
        rerank[i] = {m.ranker->Combine(&heads[i * kNumRankerHeads]), CategoryHash(v.category), v.creator_id,
                     v.upload_ms, candidates[i].from(kSourceFresh)};
      }
      Rerank(rerank, feed.count, now, m.rerank, request_id, &served);
      marks[5] = Clock::now();
      ranked = true;
    } else {
      metrics_.Increment("vrec_ranker_failures_total");
      ranker_status = scored;
    }
  }
  if (!ranked) {
    const size_t n = std::min<size_t>(feed.count, candidates.size());
    ids.assign(n, 0);
    served.assign(n, RerankedItem());
    for (size_t i = 0; i < n; ++i) {
      ids[i] = candidates[i].video;
      served[i].index = static_cast<uint32_t>(i);
      served[i].score = candidates[i].score;
    }
    if (absl::Status s = store_->GetVideos(ids, now, &videos); !s.ok()) return StatusToResponse(s);
    marks[3] = marks[4] = marks[5] = Clock::now();
  }
  const bool degraded = !retrieved.failures.empty() || !ranker_status.ok();
  if (degraded) metrics_.Increment("vrec_feed_degraded_total");

  JsonWriter w;
  w.BeginObject();
  w.Key("request_id").String(absl::StrFormat("%016x", request_id));
  w.Key("model_version").String(m.version);
  w.Key("degraded").Bool(degraded);
  w.Key("user_id").Uint(feed.user_id);
  w.Key("cold_start").Bool(cold_start);
  w.Key("ranked").Bool(ranked);
  if (feed.debug) {
    static constexpr const char* kStages[] = {"user_features", "retrieval", "video_features", "ranker", "rerank"};
    w.Key("candidates").Uint(candidates.size());
    w.Key("timings_ms").BeginObject();
    for (size_t i = 0; i < 5; ++i) {
      w.Key(kStages[i]).Double(std::chrono::duration<double, std::milli>(marks[i + 1] - marks[i]).count(), 3);
    }
    w.EndObject();
  }
  if (ranked) {
    w.Key("score_weights").BeginObject();
    for (int h = 0; h < kNumRankerHeads; ++h) w.Key(RankerHeadName(h)).Double(m.ranker->config().head_weights[h]);
    w.EndObject();
  }
  w.Key("items").BeginArray();
  ServedFeed logged;
  for (size_t p = 0; p < served.size(); ++p) {
    const RerankedItem& r = served[p];
    const Candidate& c = candidates[r.index];
    const VideoRead& video = videos[r.index];
    logged.items.push_back({c.video, static_cast<uint16_t>(p), r.score, r.propensity});
    w.BeginObject();
    w.Key("video_id").Uint(c.video);
    w.Key("score").Double(r.score);
    w.Key("sources").BeginArray();
    for (int s = 0; s < kNumSources; ++s) {
      if (c.from(static_cast<SourceId>(s))) w.String(SourceName(static_cast<SourceId>(s)));
    }
    w.EndArray();
    if (!video.features.category.empty()) w.Key("category").String(video.features.category);
    if (feed.debug) {
      w.Key("debug").BeginObject();
      w.Key("retrieval_score").Double(c.score);
      w.Key("score_kind").String(c.embedded ? "two_tower_inner_product" : "reciprocal_rank_fusion");
      w.Key("source_scores").BeginObject();
      for (int s = 0; s < kNumSources; ++s) {
        if (c.from(static_cast<SourceId>(s))) w.Key(SourceName(static_cast<SourceId>(s))).Double(c.source_score[s]);
      }
      w.EndObject();
      w.Key("source_ranks").BeginObject();
      for (int s = 0; s < kNumSources; ++s) {
        if (c.from(static_cast<SourceId>(s))) w.Key(SourceName(static_cast<SourceId>(s))).Uint(c.source_rank[s]);
      }
      w.EndObject();
      if (ranked) {
        w.Key("heads").BeginObject();
        for (int h = 0; h < kNumRankerHeads; ++h) w.Key(RankerHeadName(h)).Double(heads[r.index * kNumRankerHeads + h]);
        w.EndObject();
        w.Key("ranker_score").Double(m.ranker->Combine(&heads[r.index * kNumRankerHeads]));
        // Every source's evidence the ranker saw for this video, whichever source proposed it.
        const CrossInputs& x = cross[r.index];
        w.Key("source_signals").BeginObject();
        if (x.dense[kCrossHasItemToItem] > 0) w.Key("item_to_item").Double(x.dense[kCrossItemToItem]);
        w.Key("trending_rank").Uint(m.popularity.trending != nullptr ? m.popularity.trending->rank(c.video) : 0);
        w.Key("popular_rank").Uint(m.popularity.popular != nullptr ? m.popularity.popular->rank(c.video) : 0);
        w.Key("freshness").Double(x.dense[kCrossFresh]);
        w.EndObject();
      }
      w.Key("propensity").Double(r.propensity);
      w.Key("features").BeginObject();
      w.Key("metadata").String(FeatureStatusName(video.metadata));
      w.Key("counters").String(FeatureStatusName(video.counters));
      w.EndObject();
      w.Key("rules").BeginArray().String("drop_seen").String("drop_excluded");
      if (r.rules & kRuleFreshnessBoost) w.String("freshness_boost");
      if (r.rules & kRuleDiversity) w.String("diversity_deferred");
      if (r.rules & kRuleDiversityRelaxed) w.String("diversity_relaxed");
      if (r.rules & kRuleExplore) w.String("exploration");
      w.EndArray();
      w.EndObject();
    }
    w.EndObject();
  }
  w.EndArray();
  if (feed.debug) {
    w.Key("debug").BeginObject();
    w.Key("seen_excluded").Uint(user->features.history.size());
    w.Key("request_excluded").Uint(feed.exclude.size());
    w.Key("candidates").Uint(retrieved.candidates.size());
    w.Key("source_candidates").BeginObject();
    for (int s = 0; s < kNumSources; ++s) {
      w.Key(SourceName(static_cast<SourceId>(s))).Uint(retrieved.produced[s]);
    }
    w.EndObject();
    w.Key("source_failures").BeginArray();
    for (const SourceFailure& f : retrieved.failures) {
      w.BeginObject().Key("source").String(SourceName(f.source)).Key("error").String(f.status.ToString()).EndObject();
    }
    w.EndArray();
    if (!ranker_status.ok()) w.Key("ranker_error").String(ranker_status.ToString());
    w.Key("user_features").BeginObject();
    w.Key("profile").String(FeatureStatusName(user->profile));
    w.Key("activity").String(FeatureStatusName(user->activity));
    w.Key("history").String(FeatureStatusName(user->history));
    w.EndObject();
    w.Key("popularity_as_of").String(FormatTimestamp(m.popularity.as_of_ms));
    w.Key("now").String(FormatTimestamp(now));
    w.EndObject();
  }
  w.EndObject();
  metrics_.Increment("vrec_feed_items_total", served.size());
  if (impressions_ != nullptr) {
    logged.request_id = request_id;
    logged.time_ms = now;
    logged.user_id = feed.user_id;
    logged.model_version = m.version;
    if (!impressions_->Append(logged).ok()) metrics_.Increment("vrec_impression_log_failures_total");
  }
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
