#include "bundle/manifest.h"

#include <filesystem>
#include <fstream>

#include "gtest/gtest.h"
#include "tests/testing/temp_dir.h"

namespace vrec::bundle {
namespace {

BundleManifest Sample() {
  BundleManifest m;
  m.kind = "two_tower+ranker";
  m.version = 4;
  m.created_ms = 1767225600000;
  m.world = "/tmp/w";
  m.protocol = "time-split";
  m.complete = true;
  m.two_tower.embedding_dim = 32;
  m.two_tower.transform.video_buckets = 1 << 12;
  m.history_length = 50;
  m.train.end_ms = 1767000000000;
  m.train.temperature = 0.05;
  m.train.validation_k = 100;
  m.train.validation_recall = 0.1234;
  IndexInfo& i = m.index.emplace();
  i.items = 3000;
  i.ef_search = 256;
  i.recall_k = 100;
  i.recall = 0.97;
  RankerInfo& r = m.ranker.emplace();
  r.config.hidden_dim = 64;
  r.config.head_weights = {1.0f, 0.5f, 2.0f, 1.0f};
  r.cross_features = 13;
  r.base_version = 3;
  r.train_end_ms = 1767000000000;
  r.validation_auc = {0.6, 0.7, 0.8, 0.9};
  m.train.exported_epoch = 7;
  m.train.refit_epochs = 7;
  m.train.refit = "scratch";
  RulesInfo& rules = m.rules.emplace();
  rules.keep.diversity = false;
  rules.keep.exploration = false;
  rules.all_rules_ndcg = 0.05;
  rules.validation_ndcg = 0.06;
  return m;
}

TEST(ManifestTest, RoundTripsThroughTheFile) {
  const std::string dir = testing::TempPath("manifest_round_trip");
  std::filesystem::create_directories(dir);
  const BundleManifest m = Sample();
  ASSERT_TRUE(WriteBundleManifest(dir, m).ok());
  auto read = ReadBundleManifest(dir);
  ASSERT_TRUE(read.ok()) << read.status();
  EXPECT_EQ(read->kind, m.kind);
  EXPECT_EQ(read->version, 4);
  EXPECT_TRUE(read->complete);
  EXPECT_EQ(read->two_tower.embedding_dim, 32);
  EXPECT_EQ(read->two_tower.transform.video_buckets, 1u << 12);
  EXPECT_EQ(read->history_length, 50u);
  EXPECT_EQ(read->train.end_ms, m.train.end_ms);
  EXPECT_EQ(read->train.validation_k, 100);
  EXPECT_DOUBLE_EQ(read->train.validation_recall, 0.1234);
  ASSERT_TRUE(read->index.has_value());
  EXPECT_EQ(read->index->items, 3000);
  EXPECT_EQ(read->index->ef_search, 256);
  EXPECT_DOUBLE_EQ(read->index->recall, 0.97);
  ASSERT_TRUE(read->ranker.has_value());
  EXPECT_EQ(read->ranker->config.hidden_dim, 64);
  EXPECT_FLOAT_EQ(read->ranker->config.head_weights[ranking::kHeadLike], 2.0f);
  EXPECT_EQ(read->ranker->cross_features, 13);
  EXPECT_EQ(read->ranker->base_version, 3);
  EXPECT_DOUBLE_EQ(read->ranker->validation_auc[ranking::kHeadExposure], 0.9);
  EXPECT_EQ(read->train.refit_epochs, 7);
  EXPECT_EQ(read->train.refit, "scratch");
  ASSERT_TRUE(read->rules.has_value());
  EXPECT_FALSE(read->rules->keep.diversity);
  EXPECT_TRUE(read->rules->keep.freshness_boost);
  EXPECT_FALSE(read->rules->keep.exploration);
  EXPECT_DOUBLE_EQ(read->rules->validation_ndcg, 0.06);
  // The keys stay the ones earlier builds wrote (bundles keep loading).
  const KeyValueFile file = FormatBundleManifest(m);
  EXPECT_EQ(file.GetOr("model.embedding_dim", ""), "32");
  EXPECT_EQ(file.GetOr("index.recall_at_100", ""), "0.9700");
  EXPECT_EQ(file.GetOr("ranker.weight.like", ""), "2");
}

TEST(ManifestTest, BadManifestsAreClearErrors) {
  const std::string dir = testing::TempPath("manifest_bad");
  std::filesystem::create_directories(dir);
  EXPECT_EQ(ReadBundleManifest(dir).status().code(), absl::StatusCode::kNotFound);
  KeyValueFile f = FormatBundleManifest(Sample());
  f.SetInt("format_version", 99);
  EXPECT_EQ(ParseBundleManifest(f, dir).status().code(), absl::StatusCode::kFailedPrecondition);
  f = FormatBundleManifest(Sample());
  f.Set("ranker.weight.like", "lots");
  const absl::Status bad_weight = ParseBundleManifest(f, dir).status();
  EXPECT_EQ(bad_weight.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(bad_weight.message().find("ranker.weight.like"), std::string::npos) << bad_weight;
  f = FormatBundleManifest(Sample());
  KeyValueFile missing;
  for (const auto& [k, v] : f.entries()) {
    if (k != "model.hidden_dim") missing.Set(k, v);
  }
  const absl::Status no_key = ParseBundleManifest(missing, dir).status();
  EXPECT_EQ(no_key.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(no_key.message().find("model.hidden_dim"), std::string::npos) << no_key;
  // A ranker from before the source signals has no cross_features key: it took 8.
  KeyValueFile old;
  for (const auto& [k, v] : f.entries()) {
    if (k != "ranker.cross_features") old.Set(k, v);
  }
  auto parsed = ParseBundleManifest(old, dir);
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_EQ(parsed->ranker->cross_features, 8);
}

TEST(ManifestTest, RecordsAndVerifiesEveryFilesDigest) {
  const std::string dir = testing::TempPath("manifest_digests");
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir + "/checkpoints");
  std::ofstream(dir + "/two_tower.pt") << "weights";
  std::ofstream(dir + "/items.bin") << std::string(3 << 20, 'x');  // several read blocks
  std::ofstream(dir + "/checkpoints/epoch-1.pt") << "not listed: a folder";
  ASSERT_TRUE(WriteBundleManifest(dir, Sample()).ok());
  auto m = ReadBundleManifest(dir);
  ASSERT_TRUE(m.ok()) << m.status();
  ASSERT_EQ(m->files.size(), 2u);
  EXPECT_EQ(m->files["items.bin"].bytes, uint64_t{3} << 20);
  EXPECT_EQ(m->files["two_tower.pt"].bytes, 7u);
  EXPECT_TRUE(VerifyBundleFiles(dir, *m, {"two_tower.pt", "items.bin"}).ok());
  // A required file the MANIFEST does not list, a changed byte, a truncation, a deletion.
  EXPECT_EQ(VerifyBundleFiles(dir, *m, {"hnsw.index"}).code(), absl::StatusCode::kDataLoss);
  {
    std::fstream f(dir + "/items.bin", std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(2 << 20);
    f.put('y');
  }
  const absl::Status changed = VerifyBundleFiles(dir, *m, {});
  EXPECT_EQ(changed.code(), absl::StatusCode::kDataLoss);
  EXPECT_NE(changed.message().find("items.bin does not match its MANIFEST"), std::string::npos) << changed;
  std::ofstream(dir + "/items.bin") << std::string(3 << 20, 'x');
  EXPECT_TRUE(VerifyBundleFiles(dir, *m, {}).ok());
  std::filesystem::resize_file(dir + "/two_tower.pt", 3);
  EXPECT_EQ(VerifyBundleFiles(dir, *m, {}).code(), absl::StatusCode::kDataLoss);
  std::filesystem::remove(dir + "/two_tower.pt");
  EXPECT_EQ(VerifyBundleFiles(dir, *m, {}).code(), absl::StatusCode::kDataLoss);
  // A MANIFEST from before digests verifies nothing; a malformed digest line is refused.
  m->files.clear();
  EXPECT_TRUE(VerifyBundleFiles(dir, *m, {"two_tower.pt"}).ok());
  KeyValueFile f = FormatBundleManifest(Sample());
  f.Set("file.items.bin", "12 not-hex");
  EXPECT_EQ(ParseBundleManifest(f, dir).status().code(), absl::StatusCode::kInvalidArgument);
  f.Set("file.items.bin", "12 0000abcd");
  f.Set("file.../escape", "12 0000abcd");
  EXPECT_EQ(ParseBundleManifest(f, dir).status().code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace vrec::bundle
