// Parity of the served feed and the replay's full pipeline. A world is featurized as of a time
// T and served with the clock at T (exact search, exploration off); the replay's full pipeline
// splits the same world at T. For a few hundred test users, the feed the real server answers
// over HTTP must equal, stage by stage, the list the replay computes for the same request. A
// divergence fails and names the first stage that differs.
#include <filesystem>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/clock.h"
#include "common/json_reader.h"
#include "common/json_writer.h"
#include "common/world.h"
#include "featurestore/feature_replay.h"
#include "featurestore/feature_store.h"
#include "gtest/gtest.h"
#include "bundle/bundle.h"
#include "serving/feed_service.h"
#include "serving/http_server.h"
#include "serving/model_updater.h"
#include "tests/testing/http_client.h"
#include "tests/testing/temp_dir.h"
#include "data/generate.h"
#include "evaluation/replay.h"
#include "evaluation/replay_models.h"
#include "training/index_builder.h"
#include "training/ranker_trainer.h"
#include "training/retrieval_trainer.h"

namespace vrec {
namespace {

// A compact rendering of a JSON value (object keys in document order).
std::string Render(const JsonValue* v) {
  if (v == nullptr) return "<absent>";
  switch (v->type()) {
    case JsonValue::Type::kNull: return "null";
    case JsonValue::Type::kBool: return v->bool_value() ? "true" : "false";
    case JsonValue::Type::kNumber: return absl::StrCat(v->number());
    case JsonValue::Type::kString: return absl::StrCat("\"", v->string(), "\"");
    case JsonValue::Type::kArray: {
      std::vector<std::string> parts;
      for (const JsonValue& e : v->array()) parts.push_back(Render(&e));
      return absl::StrCat("[", absl::StrJoin(parts, ","), "]");
    }
    case JsonValue::Type::kObject: {
      std::vector<std::string> parts;
      for (const auto& [k, e] : v->members()) parts.push_back(absl::StrCat(k, ":", Render(&e)));
      return absl::StrCat("{", absl::StrJoin(parts, ","), "}");
    }
  }
  return "?";
}

const JsonValue* Path(const JsonValue& root, std::initializer_list<absl::string_view> keys) {
  const JsonValue* v = &root;
  for (absl::string_view k : keys) {
    if (v == nullptr || !v->is_object()) return nullptr;
    v = v->Find(k);
  }
  return v;
}

// A number as the feed's JSON renders it.
std::string JsonNumber(double x) {
  JsonWriter w;
  w.Double(x);
  auto parsed = ParseJson(w.Release());
  return parsed.ok() ? Render(&*parsed) : "<bad number>";
}

// The first pipeline stage at which the served feed (its debug=1 JSON) and the replay's result
// for the same request differ, with what differs; "" when they agree. Timings and request ids
// are not compared.
std::string FirstDivergence(const JsonValue& served, const pipeline::FeedResult& replayed) {
  auto parsed = ParseJson(serving::FeedResultJson(replayed, 0, 0, /*debug=*/true));
  if (!parsed.ok()) return "replay: unrenderable result";
  const JsonValue& mine = *parsed;
  auto differs = [&](std::initializer_list<absl::string_view> keys) {
    return Render(Path(served, keys)) != Render(Path(mine, keys));
  };
  if (differs({"debug", "user_features"}) || differs({"cold_start"}) || differs({"debug", "seen_excluded"})) {
    return absl::StrCat("user_features: ", Render(Path(served, {"debug", "user_features"})), " vs ",
                        Render(Path(mine, {"debug", "user_features"})));
  }
  if (differs({"debug", "candidates"}) || differs({"debug", "source_candidates"})) {
    return absl::StrCat("retrieval: candidates per source ", Render(Path(served, {"debug", "source_candidates"})),
                        " vs ", Render(Path(mine, {"debug", "source_candidates"})));
  }
  const JsonValue* items = served.Find("items");
  if (items == nullptr || !items->is_array()) return "response: no items";
  // Each served video against the replay's candidate of the same id: retrieval first, then
  // the ranker's inputs and scores, over all items, so that the earliest stage is named.
  auto candidate_of = [&](const JsonValue& item) -> int {
    const JsonValue* id = item.Find("video_id");
    for (size_t c = 0; id != nullptr && c < replayed.candidates.size(); ++c) {
      if (replayed.candidates[c].video == static_cast<VideoId>(id->integer())) return static_cast<int>(c);
    }
    return -1;
  };
  for (const JsonValue& item : items->array()) {
    const int c = candidate_of(item);
    const std::string video = Render(item.Find("video_id"));
    if (c < 0) return absl::StrCat("retrieval: served video ", video, " is not among the replayed candidates");
    const retrieval::Candidate& candidate = replayed.candidates[c];
    if (Render(Path(item, {"debug", "retrieval_score"})) != JsonNumber(candidate.score)) {
      return absl::StrCat("retrieval: video ", video, " retrieval score ", Render(Path(item, {"debug", "retrieval_score"})),
                          " vs ", JsonNumber(candidate.score));
    }
    std::vector<std::string> sources;
    for (int s = 0; s < retrieval::kNumSources; ++s) {
      if (candidate.from(static_cast<retrieval::SourceId>(s)))
        sources.push_back(absl::StrCat("\"", retrieval::SourceName(static_cast<retrieval::SourceId>(s)), "\""));
    }
    const std::string replayed_sources = absl::StrCat("[", absl::StrJoin(sources, ","), "]");
    if (Render(item.Find("sources")) != replayed_sources) {
      return absl::StrCat("retrieval: video ", video, " sources ", Render(item.Find("sources")), " vs ", replayed_sources);
    }
  }
  for (const JsonValue& item : items->array()) {
    const int c = candidate_of(item);
    for (const pipeline::FeedItem& mine_item : replayed.items) {
      if (static_cast<int>(mine_item.why.candidate) != c) continue;
      // Both served it: the ranker saw the same inputs.
      const JsonValue* replay_item = nullptr;
      for (const JsonValue& x : mine.Find("items")->array()) {
        if (x.Find("video_id")->integer() == mine_item.video) replay_item = &x;
      }
      if (Render(Path(item, {"debug", "source_signals"})) != Render(Path(*replay_item, {"debug", "source_signals"}))) {
        return absl::StrCat("ranker inputs (source signals): video ", mine_item.video, " ",
                            Render(Path(item, {"debug", "source_signals"})), " vs ",
                            Render(Path(*replay_item, {"debug", "source_signals"})));
      }
    }
    if (replayed.ranked && Render(Path(item, {"debug", "ranker_score"})) != JsonNumber(replayed.ranker_scores[c])) {
      return absl::StrCat("ranker: video ", Render(item.Find("video_id")), " score ",
                          Render(Path(item, {"debug", "ranker_score"})), " vs ", JsonNumber(replayed.ranker_scores[c]));
    }
  }
  const JsonValue* mine_items = mine.Find("items");
  for (size_t i = 0; i < std::max(items->array().size(), mine_items->array().size()); ++i) {
    if (i >= items->array().size() || i >= mine_items->array().size()) {
      return absl::StrCat("rerank: ", items->array().size(), " items served, ", mine_items->array().size(), " replayed");
    }
    const JsonValue& x = items->array()[i];
    const JsonValue& y = mine_items->array()[i];
    for (absl::string_view key : {"video_id", "score"}) {
      if (Render(x.Find(key)) != Render(y.Find(key))) {
        return absl::StrCat("rerank: position ", i, " ", key, " ", Render(x.Find(key)), " vs ", Render(y.Find(key)));
      }
    }
    for (absl::string_view key : {"heads", "propensity", "rules"}) {
      if (Render(Path(x, {"debug", key})) != Render(Path(y, {"debug", key}))) {
        return absl::StrCat("rerank: position ", i, " ", key, " ", Render(Path(x, {"debug", key})), " vs ",
                            Render(Path(y, {"debug", key})));
      }
    }
  }
  return "";
}

TEST(ParityE2eTest, ServedFeedsEqualTheReplaysFullPipeline) {
  const std::string world = testing::TempPath("parity_world");
  const std::string models = testing::TempPath("parity_models");
  std::filesystem::remove_all(models);
  data::GenerateOptions g;
  g.num_users = 800;
  g.num_videos = 2500;
  g.num_events = 120000;
  g.days = 8;
  g.show_progress = false;
  ASSERT_TRUE(data::GenerateWorld(world, g).ok());
  auto manifest = ReadWorldManifest(world);
  auto catalog = ReadCatalog(world);
  ASSERT_TRUE(manifest.ok() && catalog.ok());

  // The replay's split T, and everything trained and featurized before it.
  evaluation::ReplayOptions replay;
  replay.show_progress = false;
  replay.max_test_users = 300;
  auto data = evaluation::BuildReplayData(world, *catalog, *manifest, replay);
  ASSERT_TRUE(data.ok()) << data.status();
  const TimestampMs split = data->split_ms;
  ASSERT_GE(data->cases.size(), 200u);
  const std::string store_dir = world + "/features_as_of_split";
  featurestore::FeaturizeOptions f;
  f.as_of_ms = split;
  f.show_progress = false;
  auto featurized = featurestore::Featurize(world, store_dir, f);
  ASSERT_TRUE(featurized.ok()) << featurized.status();
  EXPECT_EQ(featurized->as_of_ms, split);
  training::RetrievalTrainOptions o;
  o.until_ms = split;
  o.epochs = 1;
  o.batch_size = 256;
  o.min_grade = 1;
  o.max_validation = 200;
  o.show_progress = false;
  ASSERT_TRUE(training::TrainRetrieval(world, models, o).ok());
  training::IndexBuildOptions ib;
  ib.recall_queries = 50;
  ib.show_progress = false;
  ASSERT_TRUE(training::BuildBundleIndex(world, store_dir, models, ib).ok());
  training::RankerTrainOptions r;
  r.batch_size = 256;
  r.show_progress = false;
  auto ranker = training::TrainRanker(world, models, r);
  ASSERT_TRUE(ranker.ok()) << ranker.status();

  // The replay's side.
  pipeline::FeedModelOptions feed;
  feed.exact_search = true;
  feed.rerank.explore_rate = 0;
  auto pipeline =
      evaluation::MakePointInTimePipeline(*data, world, *catalog, bundle::BundleDir(models, ranker->version), feed);
  ASSERT_TRUE(pipeline.ok()) << pipeline.status();

  // The server's side: the store as of T, the clock at T, the same bundle searched exactly.
  auto store = featurestore::FeatureStore::Open(store_dir, featurestore::FeatureStoreOptions());
  ASSERT_TRUE(store.ok()) << store.status();
  ManualClock clock(split);
  serving::ModelUpdater updater(store->get(), models, &clock, feed);
  auto model = updater.LoadInitial();
  ASSERT_TRUE(model.ok()) << model.status();
  ASSERT_NE((*model)->ranker, nullptr);
  serving::FeedService service(serving::FeedServiceOptions(), *model, store->get(), nullptr, &clock, nullptr);
  serving::HttpServerOptions options;
  options.port = 0;
  auto server =
      serving::HttpServer::Create(options, [&service](const serving::HttpRequest& req) { return service.Handle(req); });
  ASSERT_TRUE(server.ok());
  (*server)->Start();

  int compared = 0, ranked_items = 0;
  for (const evaluation::TestCase& test : data->cases) {
    if (test.history.size() > 1000) continue;  // the HTTP exclude limit
    const pipeline::FeedRequest request = evaluation::ReplayFeedRequest(test, 20);
    auto replayed = pipeline::Recommend(request, *pipeline->view, *pipeline->model);
    ASSERT_TRUE(replayed.ok()) << replayed.status();
    std::string target = absl::StrCat("/v1/feed?user_id=", test.user, "&count=20&debug=1");
    if (!test.history.empty()) absl::StrAppend(&target, "&exclude=", absl::StrJoin(test.history, ","));
    auto served = testing::HttpGet((*server)->port(), target);
    ASSERT_TRUE(served.ok()) << served.status();
    ASSERT_EQ(served->status, 200) << served->body;
    auto a = ParseJson(served->body);
    ASSERT_TRUE(a.ok());
    EXPECT_EQ(Render(a->Find("model_version")), absl::StrCat("\"", replayed->model_version, "\""));
    const std::string divergence = FirstDivergence(*a, *replayed);
    ASSERT_EQ(divergence, "") << "user " << test.user << ": the served feed and the replay first differ at "
                              << divergence;
    ASSERT_TRUE(replayed->ranked);
    ranked_items += static_cast<int>(replayed->items.size());
    ++compared;
  }
  EXPECT_GE(compared, 200);
  EXPECT_GE(ranked_items, compared * 15);  // real, ranked feeds, not empty lists that trivially agree
  (*server)->Stop();
}

}  // namespace
}  // namespace vrec
