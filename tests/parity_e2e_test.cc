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
#include "common/world.h"
#include "featurestore/feature_replay.h"
#include "featurestore/feature_store.h"
#include "gtest/gtest.h"
#include "retrieval/bundle.h"
#include "serving/feed_service.h"
#include "serving/http_server.h"
#include "serving/model_updater.h"
#include "tests/testing/http_client.h"
#include "tests/testing/temp_dir.h"
#include "tools/generate.h"
#include "tools/replay.h"
#include "tools/replay_models.h"
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

// The first pipeline stage at which two feed documents (debug=1) differ, with what differs; ""
// when they agree. Timings and request ids are not compared.
std::string FirstDivergence(const JsonValue& served, const JsonValue& replayed) {
  auto differs = [&](std::initializer_list<absl::string_view> keys) {
    return Render(Path(served, keys)) != Render(Path(replayed, keys));
  };
  if (differs({"debug", "user_features"}) || differs({"cold_start"})) {
    return absl::StrCat("user_features: ", Render(Path(served, {"debug", "user_features"})), " vs ",
                        Render(Path(replayed, {"debug", "user_features"})));
  }
  if (differs({"debug", "candidates"}) || differs({"debug", "source_candidates"}) ||
      differs({"debug", "seen_excluded"})) {
    return absl::StrCat("retrieval: candidates per source ", Render(Path(served, {"debug", "source_candidates"})),
                        " vs ", Render(Path(replayed, {"debug", "source_candidates"})));
  }
  const JsonValue* a = served.Find("items");
  const JsonValue* b = replayed.Find("items");
  if (a == nullptr || b == nullptr || !a->is_array() || !b->is_array()) return "response: no items";
  // Stage by stage over all items, so that the earliest stage wins even if a later item shows it.
  struct Check {
    const char* stage;
    std::vector<absl::string_view> keys;  // under each item's "debug" ("" = the item itself)
  };
  const std::vector<Check> checks = {
      {"retrieval", {"retrieval_score", "score_kind", "source_scores", "source_ranks"}},
      {"ranker inputs (source signals)", {"source_signals"}},
      {"ranker", {"heads", "ranker_score"}},
      {"rerank", {"", "propensity", "rules"}},
  };
  const size_t n = std::min(a->array().size(), b->array().size());
  for (const Check& check : checks) {
    for (size_t i = 0; i < n; ++i) {
      const JsonValue& x = a->array()[i];
      const JsonValue& y = b->array()[i];
      for (absl::string_view key : check.keys) {
        std::string rx, ry;
        if (key.empty()) {
          rx = absl::StrCat(Render(x.Find("video_id")), " score ", Render(x.Find("score")), " ",
                            Render(x.Find("sources")));
          ry = absl::StrCat(Render(y.Find("video_id")), " score ", Render(y.Find("score")), " ",
                            Render(y.Find("sources")));
        } else {
          rx = Render(Path(x, {"debug", key}));
          ry = Render(Path(y, {"debug", key}));
        }
        if (rx != ry) {
          return absl::StrCat(check.stage, ": item ", i, " (served video ", Render(x.Find("video_id")),
                              ", replayed video ", Render(y.Find("video_id")), ") ", key, " ", rx, " vs ", ry);
        }
      }
    }
  }
  if (a->array().size() != b->array().size()) {
    return absl::StrCat("rerank: ", a->array().size(), " items served, ", b->array().size(), " replayed");
  }
  return "";
}

TEST(ParityE2eTest, ServedFeedsEqualTheReplaysFullPipeline) {
  const std::string world = testing::TempPath("parity_world");
  const std::string models = testing::TempPath("parity_models");
  std::filesystem::remove_all(models);
  GenerateOptions g;
  g.num_users = 800;
  g.num_videos = 2500;
  g.num_events = 120000;
  g.days = 8;
  g.show_progress = false;
  ASSERT_TRUE(GenerateWorld(world, g).ok());
  auto manifest = ReadWorldManifest(world);
  auto catalog = ReadCatalog(world);
  ASSERT_TRUE(manifest.ok() && catalog.ok());

  // The replay's split T, and everything trained and featurized before it.
  ReplayOptions replay;
  replay.show_progress = false;
  replay.max_test_users = 300;
  auto data = BuildReplayData(world, *catalog, *manifest, replay);
  ASSERT_TRUE(data.ok()) << data.status();
  const TimestampMs split = data->split_ms;
  ASSERT_GE(data->cases.size(), 200u);
  const std::string store_dir = world + "/features_as_of_split";
  FeaturizeOptions f;
  f.as_of_ms = split;
  f.show_progress = false;
  auto featurized = Featurize(world, store_dir, f);
  ASSERT_TRUE(featurized.ok()) << featurized.status();
  EXPECT_EQ(featurized->as_of_ms, split);
  RetrievalTrainOptions o;
  o.until_ms = split;
  o.epochs = 1;
  o.batch_size = 256;
  o.min_grade = 1;
  o.max_validation = 200;
  o.show_progress = false;
  ASSERT_TRUE(TrainRetrieval(world, models, o).ok());
  IndexBuildOptions ib;
  ib.recall_queries = 50;
  ib.show_progress = false;
  ASSERT_TRUE(BuildBundleIndex(world, store_dir, models, ib).ok());
  RankerTrainOptions r;
  r.batch_size = 256;
  r.show_progress = false;
  auto ranker = TrainRanker(world, models, r);
  ASSERT_TRUE(ranker.ok()) << ranker.status();

  // The replay's side.
  FeedModelOptions feed;
  feed.exact_search = true;
  feed.rerank.explore_rate = 0;
  auto pipeline = MakePointInTimePipeline(*data, world, *catalog, BundleDir(models, ranker->version), feed);
  ASSERT_TRUE(pipeline.ok()) << pipeline.status();

  // The server's side: the store as of T, the clock at T, the same bundle searched exactly.
  auto store = FeatureStore::Open(store_dir, FeatureStoreOptions());
  ASSERT_TRUE(store.ok()) << store.status();
  ManualClock clock(split);
  ModelUpdater updater(store->get(), models, &clock, feed);
  auto model = updater.LoadInitial();
  ASSERT_TRUE(model.ok()) << model.status();
  ASSERT_NE((*model)->ranker, nullptr);
  FeedService service(FeedServiceOptions(), *model, store->get(), nullptr, &clock, nullptr);
  HttpServerOptions options;
  options.port = 0;
  auto server = HttpServer::Create(options, [&service](const HttpRequest& req) { return service.Handle(req); });
  ASSERT_TRUE(server.ok());
  (*server)->Start();

  int compared = 0, ranked_items = 0;
  for (const TestCase& test : data->cases) {
    if (test.history.size() > 1000) continue;  // the HTTP exclude limit
    const FeedRequest request = ReplayFeedRequest(test, 20);
    auto replayed = Recommend(request, *pipeline->view, *pipeline->model);
    ASSERT_TRUE(replayed.ok()) << replayed.status();
    const std::string replayed_json = FeedResultJson(*replayed, 0, test.user, /*debug=*/true);
    std::string target = absl::StrCat("/v1/feed?user_id=", test.user, "&count=20&debug=1");
    if (!test.history.empty()) absl::StrAppend(&target, "&exclude=", absl::StrJoin(test.history, ","));
    auto served = testing::HttpGet((*server)->port(), target);
    ASSERT_TRUE(served.ok()) << served.status();
    ASSERT_EQ(served->status, 200) << served->body;
    auto a = ParseJson(served->body);
    auto b = ParseJson(replayed_json);
    ASSERT_TRUE(a.ok() && b.ok());
    EXPECT_EQ(Render(a->Find("model_version")), Render(b->Find("model_version")));
    const std::string divergence = FirstDivergence(*a, *b);
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
