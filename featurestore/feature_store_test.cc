#include "featurestore/feature_store.h"

#include <filesystem>
#include <fstream>

#include "common/world.h"
#include "gtest/gtest.h"
#include "rocksdb/db.h"
#include "tests/testing/temp_dir.h"

namespace vrec::featurestore {
namespace {

using testing::TempPath;

std::string FreshDir(const std::string& name) {
  const std::string dir = TempPath(name);
  std::filesystem::remove_all(dir);
  return dir;
}

VideoFeatures Video(VideoId id, TimestampMs updated_ms) {
  VideoFeatures v;
  v.id = id;
  v.known = true;
  v.category = "c" + std::to_string(id);
  v.duration_ms = 1000 * id;
  if (updated_ms > 0) v.counters.Add(kClicks, id, updated_ms);
  return v;
}

TEST(FeatureStoreTest, WritesAndReadsWithOneMultiGetInRequestOrder) {
  const std::string dir = FreshDir("store_rw");
  auto store = FeatureStore::Create(dir, FeatureStoreOptions());
  ASSERT_TRUE(store.ok()) << store.status();
  std::vector<VideoFeatures> videos;
  for (VideoId v = 1; v <= 600; ++v) videos.push_back(Video(v, 1000));
  UserFeatures user;
  user.id = 42;
  user.known = true;
  user.country = "BR";
  user.last_active_ms = 1000;
  user.history = {{5, 1000, 1.0f, HistoryEntry::kWatched}};
  FeatureWriteBatch batch;
  for (const VideoFeatures& v : videos) batch.videos.push_back(&v);
  batch.users.push_back(&user);
  batch.watermark = 77;
  batch.as_of_ms = 1000;
  ASSERT_TRUE((*store)->Write(batch, FeatureWriteOptions()).ok());
  EXPECT_EQ((*store)->watermark(), 77u);

  const std::vector<VideoId> ids = {600, 3, 9999, 3, 1};
  std::vector<VideoRead> reads;
  ASSERT_TRUE((*store)->GetVideos(ids, 2000, &reads).ok());
  ASSERT_EQ(reads.size(), ids.size());
  for (size_t i = 0; i < ids.size(); ++i) EXPECT_EQ(reads[i].features.id, ids[i]);
  EXPECT_EQ(reads[0].features.duration_ms, 600000u);
  EXPECT_EQ(reads[1].features.category, "c3");
  EXPECT_EQ(reads[2].metadata, FeatureStatus::kMissing);  // unknown video: defaults
  EXPECT_EQ(reads[2].features.duration_ms, 0u);
  EXPECT_EQ(reads[3].features.category, "c3");
  EXPECT_EQ(reads[1].counters, FeatureStatus::kPresent);

  auto read = (*store)->GetUser(42, 2000);
  ASSERT_TRUE(read.ok()) << read.status();
  EXPECT_EQ(read->features.country, "BR");
  EXPECT_EQ(read->profile, FeatureStatus::kPresent);
  EXPECT_EQ(read->history, FeatureStatus::kPresent);
  ASSERT_EQ(read->features.history.size(), 1u);
  auto unknown = (*store)->GetUser(43, 2000);
  ASSERT_TRUE(unknown.ok());
  EXPECT_EQ(unknown->profile, FeatureStatus::kMissing);
  EXPECT_EQ(unknown->history, FeatureStatus::kMissing);
  EXPECT_EQ(unknown->activity, FeatureStatus::kMissing);

  // Reopen: data, watermark and staleness as time passes.
  store->reset();
  auto reopened = FeatureStore::Open(dir, FeatureStoreOptions());
  ASSERT_TRUE(reopened.ok()) << reopened.status();
  EXPECT_EQ((*reopened)->watermark(), 77u);
  ASSERT_TRUE((*reopened)->GetVideos({3}, 1000 + 4 * kMsPerDay, &reads).ok());
  EXPECT_EQ(reads[0].counters, FeatureStatus::kStale);
  auto later = (*reopened)->GetUser(42, 1000 + 40 * kMsPerDay);
  ASSERT_TRUE(later.ok());
  EXPECT_EQ(later->activity, FeatureStatus::kStale);
  EXPECT_EQ(later->history, FeatureStatus::kStale);
  int count = 0;
  ASSERT_TRUE((*reopened)->ForEachVideo([&](const VideoFeatures& v) {
    EXPECT_EQ(v.id, static_cast<VideoId>(++count));
    return absl::OkStatus();
  }).ok());
  EXPECT_EQ(count, 600);

  const std::string copy = FreshDir("store_rw_checkpoint");
  ASSERT_TRUE((*reopened)->Checkpoint(copy).ok());
  auto from_checkpoint = FeatureStore::Open(copy, FeatureStoreOptions());
  ASSERT_TRUE(from_checkpoint.ok()) << from_checkpoint.status();
  EXPECT_EQ((*from_checkpoint)->watermark(), 77u);
}

TEST(FeatureStoreTest, BadDirectoriesAreClearErrorsAtOpen) {
  auto missing = FeatureStore::Open(FreshDir("store_missing"), FeatureStoreOptions());
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kNotFound);
  EXPECT_NE(missing.status().message().find("vrec featurize"), std::string::npos);

  const std::string foreign = FreshDir("store_foreign");
  ASSERT_TRUE(MakeDirs(foreign).ok());
  std::ofstream(foreign + "/notes.txt") << "hello";
  auto not_rocks = FeatureStore::Open(foreign, FeatureStoreOptions());
  EXPECT_EQ(not_rocks.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(not_rocks.status().message().find("not a feature store"), std::string::npos);

  const std::string plain = FreshDir("store_plain_rocksdb");
  {
    rocksdb::Options options;
    options.create_if_missing = true;
    rocksdb::DB* raw = nullptr;
    ASSERT_TRUE(rocksdb::DB::Open(options, plain, &raw).ok());
    delete raw;
  }
  auto plain_rocks = FeatureStore::Open(plain, FeatureStoreOptions());
  EXPECT_EQ(plain_rocks.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(plain_rocks.status().message().find("not a vrec feature store"), std::string::npos);

  const std::string corrupt = FreshDir("store_corrupt");
  { ASSERT_TRUE(FeatureStore::Create(corrupt, FeatureStoreOptions()).ok()); }
  std::ofstream(corrupt + "/CURRENT", std::ios::trunc) << "garbage\n";
  auto broken = FeatureStore::Open(corrupt, FeatureStoreOptions());
  EXPECT_FALSE(broken.ok());

  FeatureStoreOptions bad;
  bad.compression = "brotli";
  EXPECT_EQ(FeatureStore::Create(FreshDir("store_bad_opt"), bad).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(FeatureStore::Create(foreign, FeatureStoreOptions()).status().code(),
            absl::StatusCode::kFailedPrecondition);
}

TEST(FeatureStoreTest, SecondOpenerIsToldTheStoreIsInUse) {
  const std::string dir = FreshDir("store_locked");
  auto first = FeatureStore::Create(dir, FeatureStoreOptions());
  ASSERT_TRUE(first.ok());
  auto second = FeatureStore::Open(dir, FeatureStoreOptions());
  EXPECT_EQ(second.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_NE(second.status().message().find("in use by another process"), std::string::npos) << second.status();
  // Offline jobs (build-index) read a store a server holds: read-only opens take no lock.
  UserFeatures user;
  user.id = 7;
  user.known = true;
  FeatureWriteBatch batch;
  batch.users.push_back(&user);
  batch.watermark = 5;
  ASSERT_TRUE((*first)->Write(batch, FeatureWriteOptions()).ok());
  FeatureStoreOptions read_only;
  read_only.read_only = true;
  auto reader = FeatureStore::Open(dir, read_only);
  ASSERT_TRUE(reader.ok()) << reader.status();
  EXPECT_EQ((*reader)->watermark(), 5u);
  auto read = (*reader)->GetUser(7, 0);
  ASSERT_TRUE(read.ok());
  EXPECT_TRUE(read->features.known);
  EXPECT_FALSE((*reader)->Write(batch, FeatureWriteOptions()).ok());
}

TEST(FeatureStoreTest, VideoCacheIsWrittenThroughAndReloaded) {
  const std::string dir = FreshDir("store_cache");
  FeatureStoreOptions options;
  options.cache_videos = true;
  {
    auto store = FeatureStore::Create(dir, options);
    ASSERT_TRUE(store.ok()) << store.status();
    std::vector<VideoFeatures> videos = {Video(3, 1000), Video(8, 1000)};
    FeatureWriteBatch batch;
    for (const VideoFeatures& v : videos) batch.videos.push_back(&v);
    ASSERT_TRUE((*store)->Write(batch, FeatureWriteOptions()).ok());
    // A later write (ingestion) replaces the cached row.
    const uint64_t clicks = videos[1].counters.total[kClicks] + 5;
    videos[1].counters.Add(kClicks, 5, 2000);
    batch.videos = {&videos[1]};
    ASSERT_TRUE((*store)->Write(batch, FeatureWriteOptions()).ok());
    std::vector<VideoRead> reads;
    ASSERT_TRUE((*store)->GetVideos({8, 4, 3}, 2000, &reads).ok());
    EXPECT_EQ(reads[0].features.counters.total[kClicks], clicks);
    EXPECT_EQ(reads[1].metadata, FeatureStatus::kMissing);
    EXPECT_EQ(reads[1].features.id, 4u);
    EXPECT_EQ(reads[2].features.category, "c3");
    std::vector<VideoFeatures> raw;
    std::vector<bool> found;
    ASSERT_TRUE((*store)->GetVideoFeatures({3, 99}, &raw, &found).ok());
    EXPECT_TRUE(found[0]);
    EXPECT_FALSE(found[1]);
  }
  // Reopened: the cache is rebuilt from RocksDB and matches the uncached read.
  auto cached = FeatureStore::Open(dir, options);
  ASSERT_TRUE(cached.ok()) << cached.status();
  std::vector<VideoRead> from_cache;
  ASSERT_TRUE((*cached)->GetVideos({8, 3}, 2000, &from_cache).ok());
  cached->reset();
  auto plain = FeatureStore::Open(dir, FeatureStoreOptions());
  ASSERT_TRUE(plain.ok());
  std::vector<VideoRead> from_rocksdb;
  ASSERT_TRUE((*plain)->GetVideos({8, 3}, 2000, &from_rocksdb).ok());
  for (size_t i = 0; i < 2; ++i) {
    EXPECT_EQ(from_cache[i].features.counters.total[kClicks], from_rocksdb[i].features.counters.total[kClicks]);
    EXPECT_EQ(from_cache[i].features.tags, from_rocksdb[i].features.tags);
    EXPECT_EQ(from_cache[i].counters, from_rocksdb[i].counters);
  }
  EXPECT_GT(from_cache[0].features.counters.total[kClicks], 5u);
}

TEST(FeatureStoreTest, SchemaVersionMismatchIsRefused) {
  const std::string dir = FreshDir("store_schema");
  { ASSERT_TRUE(FeatureStore::Create(dir, FeatureStoreOptions()).ok()); }
  {
    std::vector<rocksdb::ColumnFamilyDescriptor> cfs;
    for (const char* name : {"default", "users", "videos", "history"}) cfs.emplace_back(name, rocksdb::ColumnFamilyOptions());
    std::vector<rocksdb::ColumnFamilyHandle*> handles;
    rocksdb::DB* raw = nullptr;
    ASSERT_TRUE(rocksdb::DB::Open(rocksdb::DBOptions(), dir, cfs, &handles, &raw).ok());
    ASSERT_TRUE(raw->Put(rocksdb::WriteOptions(), handles[0], "vrec.schema_version", "99").ok());
    for (auto* h : handles) raw->DestroyColumnFamilyHandle(h);
    delete raw;
  }
  auto store = FeatureStore::Open(dir, FeatureStoreOptions());
  EXPECT_EQ(store.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(store.status().message().find("schema version 99"), std::string::npos) << store.status();
}

}  // namespace
}  // namespace vrec::featurestore
