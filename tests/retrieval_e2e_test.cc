// Two-tower training and index building end to end on a small generated world.
#include <filesystem>

#include "featurestore/feature_replay.h"
#include "gtest/gtest.h"
#include "retrieval/bundle.h"
#include "retrieval/hnsw_index.h"
#include "retrieval/two_tower.h"
#include "tests/testing/temp_dir.h"
#include "tools/generate.h"
#include "training/index_builder.h"
#include "training/retrieval_trainer.h"

namespace vrec {
namespace {

TEST(RetrievalE2eTest, TrainsBeatsChanceBuildsAnIndexAndReloads) {
  const std::string world = testing::TempPath("retrieval_world");
  const std::string models = testing::TempPath("retrieval_models");
  std::filesystem::remove_all(models);
  GenerateOptions g;
  g.num_users = 1000;
  g.num_videos = 3000;
  g.num_events = 200000;
  g.days = 10;
  g.show_progress = false;
  ASSERT_TRUE(GenerateWorld(world, g).ok());
  FeaturizeOptions f;
  f.show_progress = false;
  ASSERT_TRUE(Featurize(world, world + "/features", f).ok());

  RetrievalTrainOptions o;
  o.epochs = 3;
  o.batch_size = 256;
  o.max_validation = 500;
  o.show_progress = false;
  auto trained = TrainRetrieval(world, models, o);
  ASSERT_TRUE(trained.ok()) << trained.status();
  EXPECT_EQ(trained->version, 1);
  EXPECT_GT(trained->train_examples, 1000u);
  ASSERT_EQ(trained->validation_recall.size(), 3u);
  // Chance is 100 / (about 2,500 candidates) = 0.04; a working model is far above it.
  EXPECT_GT(trained->validation_recall.back(), 0.12) << "validation Recall@100";
  EXPECT_LT(trained->epoch_loss.back(), trained->epoch_loss.front());
  EXPECT_EQ(LatestCompleteBundle(models).status().code(), absl::StatusCode::kNotFound);  // no index yet

  IndexBuildOptions ib;
  ib.recall_queries = 200;
  ib.show_progress = false;
  auto built = BuildBundleIndex(world, world + "/features", models, ib);
  ASSERT_TRUE(built.ok()) << built.status();
  EXPECT_GE(built->recall, 0.95);
  ASSERT_EQ(*LatestCompleteBundle(models), 1);

  const std::string bundle = BundleDir(models, 1);
  auto manifest = ReadBundleManifest(bundle);
  ASSERT_TRUE(manifest.ok());
  auto config = ReadModelConfig(*manifest);
  ASSERT_TRUE(config.ok()) << config.status();
  auto model = TwoTowerModel::Load(BundleModelPath(bundle), *config);
  ASSERT_TRUE(model.ok()) << model.status();
  auto index = HnswIndex::Load(BundleItemsPath(bundle), BundleIndexPath(bundle), built->ef_search);
  ASSERT_TRUE(index.ok()) << index.status();
  EXPECT_EQ((*index)->size(), built->items);
  // A video's own embedding finds itself first.
  const VideoId probe = (*index)->ids()[17];
  std::vector<ScoredVideo> found;
  (*index)->Search((*index)->Embedding(probe), 5, &found);
  ASSERT_FALSE(found.empty());
  EXPECT_NEAR(found[0].score, 1.0f, 1e-4);
}

}  // namespace
}  // namespace vrec
