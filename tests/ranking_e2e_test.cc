// The ranking stage end to end on a small generated world: train-ranker on logged impressions
// over a retrieval bundle, the replay's full pipeline, and a real server that ranks every
// candidate, explains it, logs the served feed, and refuses a bundle with a corrupt ranker.
#include <filesystem>
#include <fstream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/clock.h"
#include "common/event_log.h"
#include "common/world.h"
#include "featurestore/feature_replay.h"
#include "featurestore/feature_store.h"
#include "gtest/gtest.h"
#include "ranking/ranker.h"
#include "bundle/bundle.h"
#include "serving/feed_service.h"
#include "serving/http_server.h"
#include "data/impression_log.h"
#include "serving/impression_log.h"
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

using testing::HttpGet;

TEST(RankingE2eTest, TrainsTheRankerServesRankedFeedsAndLogsThem) {
  const std::string world = testing::TempPath("ranking_world");
  const std::string models = testing::TempPath("ranking_models");
  std::filesystem::remove_all(models);
  data::GenerateOptions g;
  g.num_users = 1000;
  g.num_videos = 3000;
  g.num_events = 200000;
  g.days = 10;
  g.show_progress = false;
  ASSERT_TRUE(data::GenerateWorld(world, g).ok());
  featurestore::FeaturizeOptions f;
  f.show_progress = false;
  ASSERT_TRUE(featurestore::Featurize(world, world + "/features", f).ok());

  // Without a complete retrieval bundle there is nothing to build on.
  training::RankerTrainOptions r;
  r.show_progress = false;
  r.batch_size = 256;
  EXPECT_EQ(training::TrainRanker(world, models, r).status().code(), absl::StatusCode::kFailedPrecondition);

  training::RetrievalTrainOptions o;
  o.epochs = 2;
  o.batch_size = 256;
  o.min_grade = 1;
  o.max_validation = 300;
  o.show_progress = false;
  ASSERT_TRUE(training::TrainRetrieval(world, models, o).ok());
  training::IndexBuildOptions ib;
  ib.recall_queries = 100;
  ib.show_progress = false;
  ASSERT_TRUE(training::BuildBundleIndex(world, world + "/features", models, ib).ok());

  auto trained = training::TrainRanker(world, models, r);
  ASSERT_TRUE(trained.ok()) << trained.status();
  EXPECT_EQ(trained->version, 2);
  EXPECT_EQ(trained->base_version, 1);
  EXPECT_GT(trained->train_examples, 10000u);
  ASSERT_EQ(trained->epochs.size(), 1u);
  const training::RankerEpochMetrics& m = trained->epochs[0];
  // Better than chance on held-out impressions: clicks follow taste, which the features carry.
  EXPECT_GT(m.heads[ranking::kHeadClick].auc, 0.55);
  EXPECT_GT(m.heads[ranking::kHeadExposure].auc, 0.7);
  EXPECT_GT(m.slate_ndcg, 0.0);
  auto manifest = bundle::ReadBundleManifest(bundle::BundleDir(models, 2));
  ASSERT_TRUE(manifest.ok());
  EXPECT_TRUE(manifest->complete);
  ASSERT_TRUE(manifest->ranker.has_value());
  EXPECT_EQ(manifest->ranker->base_version, 1);
  EXPECT_GT(manifest->ranker->validation_auc[ranking::kHeadClick], 0.5);
  ASSERT_EQ(*bundle::LatestCompleteBundle(models), 2);

  // The replay's full pipeline runs on point-in-time features and returns full lists.
  auto world_manifest = ReadWorldManifest(world);
  auto catalog = ReadCatalog(world);
  ASSERT_TRUE(world_manifest.ok() && catalog.ok());
  evaluation::ReplayOptions replay;
  replay.show_progress = false;
  replay.max_test_users = 200;
  auto data = evaluation::BuildReplayData(world, *catalog, *world_manifest, replay);
  ASSERT_TRUE(data.ok()) << data.status();
  evaluation::BundleReplayOptions bundle_options;
  bundle_options.show_progress = false;
  auto systems = evaluation::MakeBundleSystems(*data, world, *catalog, bundle::BundleDir(models, 2), bundle_options);
  ASSERT_TRUE(systems.ok()) << systems.status();
  ASSERT_NE(systems->full_pipeline, nullptr);
  EXPECT_GT(systems->retrieval_recall, 0.0);
  Rng rng(1);
  std::vector<VideoId> list;
  systems->full_pipeline->Recommend(data->cases[0], 100, rng, &list);
  EXPECT_EQ(list.size(), 100u);
  for (VideoId v : list) EXPECT_FALSE(std::binary_search(data->cases[0].history.begin(), data->cases[0].history.end(), v));

  // Slate replay: the ranker re-ranks the logged test-period slates, better than chance.
  training::SlateReplayOptions slate_options;
  slate_options.from_ms = data->split_ms;
  slate_options.show_progress = false;
  auto slates = training::ReplayRankerOnSlates(world, bundle::BundleDir(models, 2), slate_options);
  ASSERT_TRUE(slates.ok()) << slates.status();
  EXPECT_GT(slates->slates, 100u);
  EXPECT_GT(slates->impressions, slates->slates);
  EXPECT_GT(slates->metrics.heads[ranking::kHeadClick].auc, 0.55);
  EXPECT_GT(slates->metrics.slate_ndcg, 0.0);
  EXPECT_LE(slates->metrics.slate_ndcg, 1.0);
  EXPECT_GT(slates->logged_ndcg, 0.0);
  EXPECT_LE(slates->logged_ndcg, 1.0);
  EXPECT_EQ(training::ReplayRankerOnSlates(world, bundle::BundleDir(models, 1), slate_options).status().code(),
            absl::StatusCode::kNotFound);  // no ranker in the retrieval bundle

  // A real server over bundle 2 with an impression log.
  auto store = featurestore::FeatureStore::Open(world + "/features", featurestore::FeatureStoreOptions());
  ASSERT_TRUE(store.ok()) << store.status();
  ManualClock clock((*store)->as_of_ms());
  serving::ModelUpdater updater(store->get(), models, &clock, pipeline::FeedModelOptions());
  auto model = updater.LoadInitial();
  ASSERT_TRUE(model.ok()) << model.status();
  ASSERT_NE((*model)->ranker, nullptr);
  const std::string log_path = testing::TempPath("ranking_impressions.jsonl");
  std::filesystem::remove(log_path);
  auto impressions = serving::ImpressionLog::Open(log_path);
  ASSERT_TRUE(impressions.ok());
  serving::FeedService service(serving::FeedServiceOptions(), *model, store->get(), nullptr, &clock,
                               impressions->get());
  serving::HttpServerOptions options;
  options.port = 0;
  auto server =
      serving::HttpServer::Create(options, [&service](const serving::HttpRequest& req) { return service.Handle(req); });
  ASSERT_TRUE(server.ok());
  (*server)->Start();
  const uint16_t port = (*server)->port();

  auto user = (*store)->GetUser(3, clock.NowMs());
  ASSERT_TRUE(user.ok());
  auto feed = HttpGet(port, "/v1/feed?user_id=3&count=12&debug=1");
  ASSERT_TRUE(feed.ok());
  ASSERT_EQ(feed->status, 200) << feed->body;
  const std::string& body = feed->body;
  EXPECT_NE(body.find("\"model_version\":\"2\""), std::string::npos);
  EXPECT_NE(body.find("\"ranked\":true"), std::string::npos) << body.substr(0, 400);
  EXPECT_NE(body.find("\"score_weights\":{\"click\":1"), std::string::npos);
  EXPECT_NE(body.find("\"heads\":{\"click\":"), std::string::npos);
  EXPECT_NE(body.find("\"propensity\":"), std::string::npos);
  for (const featurestore::HistoryEntry& h : user->features.history) {
    EXPECT_EQ(body.find(absl::StrCat("\"video_id\":", h.video_id, ",")), std::string::npos) << h.video_id;
  }
  auto cold = HttpGet(port, "/v1/feed?user_id=3999999999&count=10");
  ASSERT_TRUE(cold.ok());
  EXPECT_EQ(cold->status, 200);
  EXPECT_NE(cold->body.find("\"ranked\":true"), std::string::npos);

  // Both feeds are in the impression log, with the served order.
  auto logged = data::ReadImpressionLog(log_path);
  ASSERT_TRUE(logged.ok()) << logged.status();
  ASSERT_EQ(logged->size(), 2u);
  EXPECT_EQ((*logged)[0].user_id, 3u);
  EXPECT_EQ((*logged)[0].model_version, "2");
  ASSERT_EQ((*logged)[0].items.size(), 12u);
  EXPECT_NE(body.find(absl::StrCat("\"video_id\":", (*logged)[0].items[0].video_id, ",")), std::string::npos);
  EXPECT_NE(body.find(absl::StrFormat("\"request_id\":\"%016x\"", (*logged)[0].request_id)), std::string::npos);

  // Slate replay reads the served feeds and joins them with engagement that names their
  // request: a click on the first served video makes that feed a slate the logged order
  // scores perfectly; the cold user's feed has no engagement and is not scored.
  {
    auto writer = EventLogWriter::Open(WorldEventsPath(world));
    ASSERT_TRUE(writer.ok()) << writer.status();
    Event click;
    click.type = EventType::kClick;
    click.user_id = 3;
    click.video_id = (*logged)[0].items[0].video_id;
    click.request_id = (*logged)[0].request_id;
    click.position = 0;
    click.timestamp_ms = (*logged)[0].time_ms + 1000;
    ASSERT_TRUE((*writer)->Append(click).ok());
    ASSERT_TRUE((*writer)->Close().ok());
  }
  training::SlateReplayOptions served_options;
  served_options.from_ms = (*logged)[0].time_ms;
  served_options.until_ms = (*logged)[0].time_ms + 2000;
  served_options.served = data::ServedImpressionEvents(*logged);
  served_options.show_progress = false;
  ASSERT_EQ(served_options.served.size(), 22u);
  auto served = training::ReplayRankerOnSlates(world, bundle::BundleDir(models, 2), served_options);
  ASSERT_TRUE(served.ok()) << served.status();
  EXPECT_GE(served->impressions, 22u);
  EXPECT_GE(served->slates, 1u);
  EXPECT_GT(served->logged_ndcg, 0.0);

  // A newer bundle whose ranker file is corrupt is refused; bundle 2 keeps serving ranked feeds.
  std::filesystem::copy(bundle::BundleDir(models, 2), bundle::BundleDir(models, 3),
                        std::filesystem::copy_options::recursive);
  std::filesystem::remove(bundle::BundleRankerPath(bundle::BundleDir(models, 3)));
  std::ofstream(bundle::BundleRankerPath(bundle::BundleDir(models, 3))) << "garbage";
  ASSERT_TRUE(updater.RefreshOnce(&service).ok());
  EXPECT_NE(HttpGet(port, "/metrics")->body.find("vrec_bundle_rejected_total 1"), std::string::npos);
  auto after = HttpGet(port, "/v1/feed?user_id=3&count=5");
  ASSERT_TRUE(after.ok());
  EXPECT_NE(after->body.find("\"model_version\":\"2\""), std::string::npos);
  EXPECT_NE(after->body.find("\"ranked\":true"), std::string::npos);

  // Every ranked item carries the source signals the ranker saw. A video the trending source
  // proposed is ranked in the trending list, so its trending signal is set whichever way it came.
  {
    auto wide = HttpGet(port, "/v1/feed?user_id=3&count=60&debug=1");
    ASSERT_TRUE(wide.ok());
    ASSERT_EQ(wide->status, 200);
    const std::string& all = wide->body;
    int items = 0, trending_items = 0, with_item_to_item = 0;
    for (size_t at = all.find("{\"video_id\":"); at != std::string::npos; at = all.find("{\"video_id\":", at + 1)) {
      const std::string item = all.substr(at, all.find("\"rules\"", at) - at);
      ++items;
      ASSERT_NE(item.find("\"source_signals\":{"), std::string::npos) << item;
      with_item_to_item += item.find("\"item_to_item\":") != std::string::npos;
      if (item.find("\"trending\"]") != std::string::npos || item.find("\"trending\",") != std::string::npos) {
        ++trending_items;
        EXPECT_EQ(item.find("\"trending_rank\":0,"), std::string::npos) << item;
      }
    }
    EXPECT_EQ(items, 60);
    EXPECT_GT(with_item_to_item, 0);  // user 3 has engaged history and the index embeds the candidates
    EXPECT_GT(trending_items, 0);
  }
  (*server)->Stop();
}

}  // namespace
}  // namespace vrec
