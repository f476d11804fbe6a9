#include "bundle/bundle.h"

#include <filesystem>
#include <fstream>

#include "gtest/gtest.h"
#include "ranking/cross_features.h"
#include "tests/testing/temp_dir.h"

namespace vrec::bundle {
namespace {

RankerInfo SmallRanker() {
  RankerInfo r;
  r.config.id_dim = 8;
  r.config.category_dim = 8;
  r.config.hidden_dim = 32;
  r.config.hidden2_dim = 16;
  r.config.transform.video_buckets = 1 << 10;
  r.config.transform.creator_buckets = 1 << 8;
  r.config.transform.tag_buckets = 1 << 8;
  r.cross_features = ranking::kCrossFeatures;
  return r;
}

TEST(BundleTest, LoadsAndChecksTheRanker) {
  const std::string dir = testing::TempPath("bundle_ranker");
  std::filesystem::create_directories(dir);
  BundleManifest m;
  EXPECT_EQ(LoadBundleRanker(dir, m).status().code(), absl::StatusCode::kNotFound);
  m.ranker = SmallRanker();
  // A corrupt ranker file is DataLoss.
  std::ofstream(BundleRankerPath(dir)) << "not a model";
  EXPECT_EQ(LoadBundleRanker(dir, m).status().code(), absl::StatusCode::kDataLoss);
  auto model = ranking::RankerModel::Create(m.ranker->config, 1);
  ASSERT_TRUE((*model)->Save(BundleRankerPath(dir)).ok());
  auto loaded = LoadBundleRanker(dir, m);
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  EXPECT_EQ((*loaded)->config().hidden_dim, 32);
  // A ranker trained on another set of cross features (an older build) is refused.
  m.ranker->cross_features = 8;
  const absl::Status old = LoadBundleRanker(dir, m).status();
  EXPECT_EQ(old.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(old.message().find("train a new ranker"), std::string::npos) << old;
}

TEST(BundleTest, VersionsAndIncompleteBundles) {
  const std::string models = testing::TempPath("bundle_versions");
  std::filesystem::remove_all(models);
  EXPECT_EQ(LatestBundle(models).status().code(), absl::StatusCode::kNotFound);
  ASSERT_EQ(*NextBundleVersion(models), 1);
  BundleManifest m;
  m.version = 1;
  std::filesystem::create_directories(BundleDir(models, 1));
  ASSERT_TRUE(WriteBundleManifest(BundleDir(models, 1), m).ok());
  EXPECT_EQ(*LatestBundle(models), 1);
  EXPECT_EQ(LatestCompleteBundle(models).status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(LoadBundle(models, 1).status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(*NextBundleVersion(models), 2);
  EXPECT_EQ(LoadBundle(models, 7).status().code(), absl::StatusCode::kNotFound);

  // A symlink loop and a dangling link among the versions are skipped, not thrown from (the
  // refresh thread scans this folder; an exception there ended the process).
  std::filesystem::create_directory_symlink(BundleDir(models, 5), BundleDir(models, 5));
  std::filesystem::create_directory_symlink(BundleDir(models, 404), BundleDir(models, 6));
  EXPECT_EQ(*LatestBundle(models), 1);
  EXPECT_EQ(*NextBundleVersion(models), 2);
}

}  // namespace
}  // namespace vrec::bundle
