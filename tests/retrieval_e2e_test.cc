// Two-tower training, index building and serving end to end on a small generated world.
#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <regex>

#include "absl/strings/str_cat.h"
#include "common/clock.h"
#include "featurestore/feature_store.h"
#include "serving/feed_service.h"
#include "serving/http_server.h"
#include "serving/model_updater.h"
#include "tests/testing/http_client.h"

#include "featurestore/feature_replay.h"
#include "gtest/gtest.h"
#include "bundle/bundle.h"
#include "retrieval/hnsw_index.h"
#include "retrieval/two_tower.h"
#include "tests/testing/temp_dir.h"
#include "data/generate.h"
#include "evaluation/replay.h"
#include "evaluation/replay_models.h"
#include "training/index_builder.h"
#include "training/retrieval_trainer.h"

namespace vrec {
namespace {

using testing::HttpGet;

std::vector<std::string> Sources(const std::string& body) {
  static const std::regex kSourcesPattern("\"sources\":\\[([^\\]]*)\\]");
  std::vector<std::string> out;
  for (auto it = std::sregex_iterator(body.begin(), body.end(), kSourcesPattern); it != std::sregex_iterator(); ++it) {
    out.push_back((*it)[1]);
  }
  return out;
}

// Builds the newest bundle's index over the world's features, checking recall on 200 queries.
absl::StatusOr<training::IndexBuildSummary> BuildIndex(const std::string& world, const std::string& models) {
  training::IndexBuildOptions options;
  options.recall_queries = 200;
  options.show_progress = false;
  return training::BuildBundleIndex(world, world + "/features", models, options);
}

// A real server over the bundle: a known user and a brand-new user get two-tower feeds, a
// newer bundle is swapped in, and a corrupt one is refused while the good one keeps serving.
void ServeBundleAndCheckFeeds(const std::string& world, const std::string& models) {
  auto store = featurestore::FeatureStore::Open(world + "/features", featurestore::FeatureStoreOptions());
  ASSERT_TRUE(store.ok()) << store.status();
  ManualClock clock((*store)->as_of_ms());
  serving::ModelUpdater updater(store->get(), models, &clock, pipeline::FeedModelOptions());
  auto model = updater.LoadInitial();
  ASSERT_TRUE(model.ok()) << model.status();
  serving::FeedService service(serving::FeedServiceOptions(), *model, store->get(), nullptr, &clock);
  serving::HttpServerOptions options;
  options.port = 0;
  auto server =
      serving::HttpServer::Create(options, [&service](const serving::HttpRequest& r) { return service.Handle(r); });
  ASSERT_TRUE(server.ok()) << server.status();
  (*server)->Start();
  const uint16_t port = (*server)->port();

  // A user with history: two-tower candidates, nothing already seen.
  auto user = (*store)->GetUser(3, clock.NowMs());
  ASSERT_TRUE(user.ok());
  ASSERT_FALSE(user->features.history.empty());
  auto known = HttpGet(port, "/v1/feed?user_id=3&count=30&debug=1");
  ASSERT_TRUE(known.ok()) << known.status();
  ASSERT_EQ(known->status, 200) << known->body;
  EXPECT_NE(known->body.find("\"model_version\":\"1\""), std::string::npos) << known->body.substr(0, 300);
  EXPECT_NE(known->body.find("\"degraded\":false"), std::string::npos);
  EXPECT_NE(known->body.find("\"score_kind\":\"two_tower_inner_product\""), std::string::npos);
  const std::vector<std::string> sources = Sources(known->body);
  ASSERT_EQ(sources.size(), 30u) << known->body.substr(0, 500);
  EXPECT_NE(std::count_if(sources.begin(), sources.end(),
                          [](const std::string& s) { return s.find("two_tower") != std::string::npos; }),
            0);
  for (const featurestore::HistoryEntry& h : user->features.history) {
    EXPECT_EQ(known->body.find(absl::StrCat("\"video_id\":", h.video_id, ",")), std::string::npos) << h.video_id;
  }

  // A user the system has never seen: still a full feed, from the user tower on the request
  // context plus trending, and marked as cold start.
  auto fresh = HttpGet(port, "/v1/feed?user_id=3999999999&count=20&device=mobile");
  ASSERT_TRUE(fresh.ok());
  ASSERT_EQ(fresh->status, 200) << fresh->body;
  EXPECT_NE(fresh->body.find("\"cold_start\":true"), std::string::npos);
  EXPECT_NE(fresh->body.find("\"degraded\":false"), std::string::npos);
  EXPECT_EQ(Sources(fresh->body).size(), 20u) << fresh->body;
  EXPECT_NE(fresh->body.find("two_tower"), std::string::npos);

  // Hot swap: version 2 appears and is served; version 3 is corrupt and refused.
  std::filesystem::copy(bundle::BundleDir(models, 1), bundle::BundleDir(models, 2),
                        std::filesystem::copy_options::recursive);
  ASSERT_TRUE(updater.RefreshOnce(&service).ok());
  EXPECT_NE(HttpGet(port, "/readyz")->body.find("\"model_version\":\"2\""), std::string::npos);
  std::filesystem::copy(bundle::BundleDir(models, 1), bundle::BundleDir(models, 3),
                        std::filesystem::copy_options::recursive);
  std::filesystem::resize_file(bundle::BundleIndexPath(bundle::BundleDir(models, 3)), 100);
  ASSERT_TRUE(updater.RefreshOnce(&service).ok());
  EXPECT_NE(HttpGet(port, "/readyz")->body.find("\"model_version\":\"2\""), std::string::npos);
  EXPECT_NE(HttpGet(port, "/metrics")->body.find("vrec_bundle_rejected_total 1"), std::string::npos);
  auto after = HttpGet(port, "/v1/feed?user_id=3&count=5");
  ASSERT_TRUE(after.ok());
  EXPECT_EQ(after->status, 200);
  EXPECT_NE(after->body.find("\"model_version\":\"2\""), std::string::npos);

  // The attack of issue 14: 4 bytes of hnsw.index overwritten at offset 52 (the digest catches
  // it), the same with a MANIFEST rewritten to match (the hnswlib header check catches it), and
  // a two_tower.pt of another shape with a matching MANIFEST (the shape check catches it).
  auto copy_of_good = [&](int64_t version) {
    std::filesystem::copy(bundle::BundleDir(models, 1), bundle::BundleDir(models, version),
                          std::filesystem::copy_options::recursive);
    return bundle::BundleDir(models, version);
  };
  auto overwrite = [](const std::string& path, long offset) {
    std::FILE* f = std::fopen(path.c_str(), "r+b");
    ASSERT_NE(f, nullptr);
    std::fseek(f, offset, SEEK_SET);
    const unsigned char bytes[4] = {0xff, 0xff, 0xff, 0x7f};
    std::fwrite(bytes, 1, 4, f);
    std::fclose(f);
  };
  auto rewrite_manifest = [](const std::string& dir) {
    auto m = bundle::ReadBundleManifest(dir);
    ASSERT_TRUE(m.ok()) << m.status();
    ASSERT_TRUE(bundle::WriteBundleManifest(dir, *m).ok());
  };
  overwrite(bundle::BundleIndexPath(copy_of_good(4)), 52);
  const std::string v5 = copy_of_good(5);
  overwrite(bundle::BundleIndexPath(v5), 52);
  rewrite_manifest(v5);
  const std::string v6 = copy_of_good(6);
  {
    auto m = bundle::ReadBundleManifest(v6);
    ASSERT_TRUE(m.ok());
    retrieval::TwoTowerConfig other = m->two_tower;
    other.embedding_dim = m->two_tower.embedding_dim / 2;
    auto wrong = retrieval::TwoTowerModel::Create(other, 3);
    ASSERT_TRUE(wrong.ok());
    ASSERT_TRUE((*wrong)->Save(bundle::BundleModelPath(v6)).ok());
    rewrite_manifest(v6);
    auto refused = bundle::LoadBundle(models, 6);
    EXPECT_EQ(refused.status().code(), absl::StatusCode::kDataLoss) << refused.status();
    EXPECT_NE(refused.status().message().find("the config wants"), std::string::npos) << refused.status();
  }
  ASSERT_TRUE(updater.RefreshOnce(&service).ok());
  ASSERT_TRUE(updater.RefreshOnce(&service).ok());  // quarantined: not retried, not counted again
  std::string metrics = HttpGet(port, "/metrics")->body;
  EXPECT_NE(metrics.find("vrec_bundle_rejected_total 4"), std::string::npos) << metrics;
  EXPECT_NE(metrics.find("vrec_bundle_quarantined 4"), std::string::npos) << metrics;
  EXPECT_NE(metrics.find("vrec_bundle_version 2"), std::string::npos) << metrics;
  EXPECT_EQ(HttpGet(port, "/v1/feed?user_id=3&count=5")->status, 200);

  // A restart serves the newest bundle that loads (2), not the newest one (6).
  {
    serving::ModelUpdater restarted(store->get(), models, &clock, pipeline::FeedModelOptions());
    auto initial = restarted.LoadInitial();
    ASSERT_TRUE(initial.ok()) << initial.status();
    EXPECT_EQ((*initial)->version, "2");
  }

  // A quarantined bundle whose files are repaired (and its MANIFEST rewritten) is tried again.
  std::filesystem::copy_file(bundle::BundleIndexPath(bundle::BundleDir(models, 1)),
                             bundle::BundleIndexPath(bundle::BundleDir(models, 3)),
                             std::filesystem::copy_options::overwrite_existing);
  rewrite_manifest(bundle::BundleDir(models, 3));
  ASSERT_TRUE(updater.RefreshOnce(&service).ok());
  EXPECT_NE(HttpGet(port, "/v1/feed?user_id=3&count=5")->body.find("\"model_version\":\"3\""), std::string::npos);
  (*server)->Stop();
}

// The replay ranks with the bundle on point-in-time features; a bundle that trained past the
// split is refused.
void ReplayTwoTower(const std::string& world, const std::string& models) {
  auto manifest = ReadWorldManifest(world);
  auto catalog = ReadCatalog(world);
  ASSERT_TRUE(manifest.ok() && catalog.ok());
  evaluation::ReplayOptions options;
  options.show_progress = false;
  auto data = evaluation::BuildReplayData(world, *catalog, *manifest, options);
  ASSERT_TRUE(data.ok()) << data.status();
  auto two_tower = evaluation::MakeTwoTowerSystem(*data, world, *catalog, bundle::BundleDir(models, 1), 100, false);
  ASSERT_TRUE(two_tower.ok()) << two_tower.status();
  auto random = evaluation::MakeRandomSystem(*data);
  const auto results = evaluation::EvaluateSystems(*data, {random.get(), two_tower->get()}, options);
  EXPECT_GT(results[1].recall_deep, 3 * results[0].recall_deep + 0.01)
      << evaluation::FormatReplayTable(*data, results, options);

  training::RetrievalTrainOptions o;
  o.user_tower = "pooled";
  o.epochs = 1;
  o.until_fraction = 1.0;
  o.show_progress = false;
  auto late = training::TrainRetrieval(world, models + "_late", o);
  ASSERT_TRUE(late.ok()) << late.status();
  auto refused = evaluation::MakeTwoTowerSystem(*data, world, *catalog, late->bundle_dir, 100, false);
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(refused.status().message().find("has seen the test period"), std::string::npos) << refused.status();
}

// The default trains both user towers, exports the one with the better validation recall and
// records the choice; the sequential tower's unnormalised scores serve through the index.
void AutoChoosesATowerByValidation(const std::string& world) {
  const std::string models = testing::TempPath("retrieval_models_auto");
  std::filesystem::remove_all(models);
  training::RetrievalTrainOptions o;
  o.epochs = 2;
  o.sequential.epochs = 3;
  o.max_validation = 500;
  o.show_progress = false;
  auto trained = training::TrainRetrieval(world, models, o);
  ASSERT_TRUE(trained.ok()) << trained.status();
  ASSERT_GE(trained->pooled_recall, 0);
  ASSERT_GE(trained->sequential_recall, 0);
  EXPECT_GT(trained->sequential_recall, 0.12) << "chance is about 0.04";
  const bool sequential = trained->sequential_recall > trained->pooled_recall;
  EXPECT_EQ(trained->user_tower, sequential ? "sequential" : "pooled");
  auto manifest = bundle::ReadBundleManifest(trained->bundle_dir);
  ASSERT_TRUE(manifest.ok()) << manifest.status();
  EXPECT_EQ(manifest->two_tower.user_tower,
            sequential ? retrieval::UserTower::kSequential : retrieval::UserTower::kPooled);
  EXPECT_NEAR(manifest->train.pooled_recall, trained->pooled_recall, 1e-6);
  EXPECT_NEAR(manifest->train.sequential_recall, trained->sequential_recall, 1e-6);

  auto built = BuildIndex(world, models);
  ASSERT_TRUE(built.ok()) << built.status();
  // HNSW over unnormalised inner products (the sequential tower) finds fewer of the exact
  // neighbours than over cosines at the same efSearch (0.83 measured here).
  EXPECT_GE(built->recall, 0.75);
  auto loaded = bundle::LoadBundle(models, 1);
  ASSERT_TRUE(loaded.ok()) << loaded.status();
}

TEST(RetrievalE2eTest, TrainsBeatsChanceBuildsAnIndexAndReloads) {
  const std::string world = testing::TempPath("retrieval_world");
  const std::string models = testing::TempPath("retrieval_models");
  std::filesystem::remove_all(models);
  std::filesystem::remove_all(models + "_late");
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

  training::RetrievalTrainOptions o;
  o.user_tower = "pooled";  // the sequential tower and the automatic choice: AutoChoosesATowerByValidation
  o.epochs = 3;
  o.batch_size = 256;
  o.max_validation = 500;
  o.show_progress = false;
  auto trained = training::TrainRetrieval(world, models, o);
  ASSERT_TRUE(trained.ok()) << trained.status();
  EXPECT_EQ(trained->version, 1);
  EXPECT_GT(trained->train_examples, 1000u);
  ASSERT_EQ(trained->validation_recall.size(), 3u);
  // Chance is 100 / (about 2,500 candidates) = 0.04; a working model is far above it.
  EXPECT_GT(trained->validation_recall.back(), 0.12) << "validation Recall@100";
  EXPECT_LT(trained->epoch_loss.back(), trained->epoch_loss.front());
  // The bundle holds the epoch with the best validation recall.
  const auto best = std::max_element(trained->validation_recall.begin(), trained->validation_recall.end());
  EXPECT_EQ(trained->exported_epoch, static_cast<int>(best - trained->validation_recall.begin()) + 1);
  EXPECT_EQ(bundle::LatestCompleteBundle(models).status().code(), absl::StatusCode::kNotFound);  // no index yet
  // The served model is refit on the training and validation parts for the chosen epoch count;
  // the validated one stays beside it for the fusion.
  EXPECT_EQ(trained->refit_epochs, trained->exported_epoch);
  {
    auto m = bundle::ReadBundleManifest(trained->bundle_dir);
    ASSERT_TRUE(m.ok()) << m.status();
    EXPECT_EQ(m->train.refit_epochs, trained->exported_epoch);
    EXPECT_EQ(m->train.refit, "scratch");
    EXPECT_EQ(m->train.examples, static_cast<int64_t>(trained->train_examples));
    auto served = bundle::LoadBundleTwoTower(trained->bundle_dir, *m);
    auto held_out = bundle::LoadBundleTwoTower(trained->bundle_dir, *m, bundle::TwoTowerWeights::kHeldOut);
    ASSERT_TRUE(served.ok() && held_out.ok());
    featurestore::UserInputs user;
    user.history[0] = 5;
    std::vector<float> a((*served)->dim()), b((*served)->dim());
    ASSERT_TRUE((*served)->EmbedUsers(absl::MakeConstSpan(&user, 1), a.data()).ok());
    ASSERT_TRUE((*held_out)->EmbedUsers(absl::MakeConstSpan(&user, 1), b.data()).ok());
    EXPECT_NE(a, b) << "the refit trained on more data from a fresh start";
  }

  auto built = BuildIndex(world, models);
  ASSERT_TRUE(built.ok()) << built.status();
  EXPECT_GE(built->recall, 0.95);
  ASSERT_EQ(*bundle::LatestCompleteBundle(models), 1);

  const std::string bundle = bundle::BundleDir(models, 1);
  auto manifest = bundle::ReadBundleManifest(bundle);
  ASSERT_TRUE(manifest.ok());
  auto model = bundle::LoadBundleTwoTower(bundle, *manifest);
  ASSERT_TRUE(model.ok()) << model.status();
  auto index =
      retrieval::HnswIndex::Load(bundle::BundleItemsPath(bundle), bundle::BundleIndexPath(bundle), built->ef_search);
  ASSERT_TRUE(index.ok()) << index.status();
  EXPECT_EQ((*index)->size(), built->items);
  // A video's own embedding finds itself first.
  const VideoId probe = (*index)->ids()[17];
  std::vector<retrieval::ScoredVideo> found;
  (*index)->Search((*index)->Embedding(probe), 5, &found);
  ASSERT_FALSE(found.empty());
  EXPECT_NEAR(found[0].score, 1.0f, 1e-4);

  ReplayTwoTower(world, models);
  ServeBundleAndCheckFeeds(world, models);
  AutoChoosesATowerByValidation(world);
}

}  // namespace
}  // namespace vrec
