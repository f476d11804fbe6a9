#include "serving/event_ingestor.h"

#include <filesystem>
#include <thread>

#include "common/event_log.h"
#include "featurestore/feature_store.h"
#include "gtest/gtest.h"
#include "tests/testing/temp_dir.h"

namespace vrec::serving {
namespace {

using testing::TempPath;

Event Click(UserId u, VideoId v, TimestampMs t) {
  Event e;
  e.user_id = u;
  e.video_id = v;
  e.timestamp_ms = t;
  e.type = EventType::kClick;
  return e;
}

class EventIngestorTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const std::string name = ::testing::UnitTest::GetInstance()->current_test_info()->name();
    store_dir_ = TempPath(name + "_store");
    log_path_ = TempPath(name + ".log");
    std::filesystem::remove_all(store_dir_);
    std::filesystem::remove(log_path_);
    auto store = featurestore::FeatureStore::Create(store_dir_, featurestore::FeatureStoreOptions());
    ASSERT_TRUE(store.ok()) << store.status();
    store_ = std::move(*store);
    featurestore::VideoFeatures video;
    video.id = 5;
    video.known = true;
    video.duration_ms = 60000;
    featurestore::FeatureWriteBatch batch;
    batch.videos.push_back(&video);
    ASSERT_TRUE(store_->Write(batch, featurestore::FeatureWriteOptions()).ok());
  }

  std::string store_dir_, log_path_;
  std::unique_ptr<featurestore::FeatureStore> store_;
};

TEST_F(EventIngestorTest, AcknowledgedEventsAreInTheLogAndTheStore) {
  auto ingestor = EventIngestor::Create(log_path_, store_.get(), EventIngestorOptions());
  ASSERT_TRUE(ingestor.ok()) << ingestor.status();
  ASSERT_TRUE((*ingestor)->Ingest({Click(1, 5, 100), Click(2, 5, 200)}).ok());
  Event watch = Click(1, 5, 300);
  watch.type = EventType::kWatch;
  watch.watch_time_ms = 30000;
  ASSERT_TRUE((*ingestor)->Ingest({watch}).ok());
  EXPECT_EQ((*ingestor)->log_events(), 3u);
  auto logged = ReadEventLog(log_path_);
  ASSERT_TRUE(logged.ok());
  EXPECT_EQ(logged->size(), 3u);
  EXPECT_EQ(store_->watermark(), 3u);
  EXPECT_EQ(store_->as_of_ms(), 300);
  auto user = store_->GetUser(1, 300);
  ASSERT_TRUE(user.ok());
  ASSERT_EQ(user->features.history.size(), 1u);
  EXPECT_FLOAT_EQ(user->features.history[0].watch_ratio, 0.5f);
  std::vector<featurestore::VideoRead> videos;
  ASSERT_TRUE(store_->GetVideos({5}, 300, &videos).ok());
  EXPECT_EQ(videos[0].features.counters.total[featurestore::kClicks], 2.0);
  EXPECT_EQ((*ingestor)->Ingest({}).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ((*ingestor)->Ingest(std::vector<Event>(1001, Click(1, 5, 1))).code(), absl::StatusCode::kInvalidArgument);
}

TEST_F(EventIngestorTest, ConcurrentRequestsAreAllAppliedOnce) {
  auto ingestor = EventIngestor::Create(log_path_, store_.get(), EventIngestorOptions());
  ASSERT_TRUE(ingestor.ok());
  std::vector<std::thread> clients;
  std::atomic<int> failures{0};
  for (int t = 0; t < 4; ++t) {
    clients.emplace_back([&, t] {
      for (int i = 0; i < 40; ++i) {
        if (!(*ingestor)->Ingest({Click(t, 5, 1000 + i), Click(t, 5, 1000 + i)}).ok()) ++failures;
      }
    });
  }
  for (std::thread& c : clients) c.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_EQ((*ingestor)->log_events(), 320u);
  EXPECT_EQ(store_->watermark(), 320u);
  std::vector<featurestore::VideoRead> videos;
  ASSERT_TRUE(store_->GetVideos({5}, 2000, &videos).ok());
  EXPECT_EQ(videos[0].features.counters.total[featurestore::kClicks], 320.0);
}

TEST_F(EventIngestorTest, RestartAppliesLoggedEventsTheStoreMissed) {
  {
    auto ingestor = EventIngestor::Create(log_path_, store_.get(), EventIngestorOptions());
    ASSERT_TRUE(ingestor.ok());
    ASSERT_TRUE((*ingestor)->Ingest({Click(1, 5, 100)}).ok());
  }
  // A crash between the log's fsync and the store update: the log has events the store lacks.
  {
    auto writer = EventLogWriter::Open(log_path_);
    ASSERT_TRUE(writer.ok());
    ASSERT_TRUE((*writer)->AppendBatch(std::vector<Event>{Click(2, 5, 200), Click(3, 5, 300)}).ok());
    ASSERT_TRUE((*writer)->Sync().ok());
  }
  EXPECT_EQ(store_->watermark(), 1u);
  auto ingestor = EventIngestor::Create(log_path_, store_.get(), EventIngestorOptions());
  ASSERT_TRUE(ingestor.ok()) << ingestor.status();
  EXPECT_EQ((*ingestor)->recovered_events(), 2u);
  EXPECT_EQ(store_->watermark(), 3u);
  auto user = store_->GetUser(3, 300);
  ASSERT_TRUE(user.ok());
  EXPECT_EQ(user->features.history.size(), 1u);
  std::vector<featurestore::VideoRead> videos;
  ASSERT_TRUE(store_->GetVideos({5}, 300, &videos).ok());
  EXPECT_EQ(videos[0].features.counters.total[featurestore::kClicks], 3.0);  // each event applied exactly once
}

TEST_F(EventIngestorTest, RetriesWithEventIdsAreAppliedOnceAcrossRestarts) {
  const uint64_t a = EventIdHash("a"), b = EventIdHash("b"), c = EventIdHash("c");
  size_t duplicates = 99;
  {
    auto ingestor = EventIngestor::Create(log_path_, store_.get(), EventIngestorOptions());
    ASSERT_TRUE(ingestor.ok());
    ASSERT_TRUE((*ingestor)->Ingest({Click(1, 5, 100), Click(1, 5, 110)}, {a, 0}, &duplicates).ok());
    EXPECT_EQ(duplicates, 0u);
    // The client timed out and retries the batch, plus a new event; the id-less event counts again.
    ASSERT_TRUE((*ingestor)->Ingest({Click(1, 5, 100), Click(1, 5, 110), Click(2, 5, 120)}, {a, 0, b}, &duplicates).ok());
    EXPECT_EQ(duplicates, 1u);
    // A batch that repeats an id within itself keeps the first.
    ASSERT_TRUE((*ingestor)->Ingest({Click(3, 5, 130), Click(3, 5, 130)}, {c, c}, &duplicates).ok());
    EXPECT_EQ(duplicates, 1u);
    EXPECT_EQ((*ingestor)->log_events(), 5u);
  }
  // A crash after the log's sync, before the store heard of it: the log's ids come back with
  // the recovered events, so the retry after the restart is still recognised.
  {
    auto writer = EventLogWriter::Open(log_path_);
    ASSERT_TRUE(writer.ok());
    const uint64_t d = EventIdHash("d");
    ASSERT_TRUE((*writer)->AppendBatch(std::vector<Event>{Click(4, 5, 140)}, std::vector<uint64_t>{d}).ok());
    ASSERT_TRUE((*writer)->Sync().ok());
  }
  auto ingestor = EventIngestor::Create(log_path_, store_.get(), EventIngestorOptions());
  ASSERT_TRUE(ingestor.ok()) << ingestor.status();
  EXPECT_EQ((*ingestor)->recovered_events(), 1u);
  ASSERT_TRUE((*ingestor)->Ingest({Click(4, 5, 140), Click(2, 5, 120)}, {EventIdHash("d"), b}, &duplicates).ok());
  EXPECT_EQ(duplicates, 2u);
  EXPECT_EQ((*ingestor)->log_events(), 6u);
  std::vector<featurestore::VideoRead> videos;
  ASSERT_TRUE(store_->GetVideos({5}, 300, &videos).ok());
  EXPECT_EQ(videos[0].features.counters.total[featurestore::kClicks], 6.0);
  // The log keeps the ids with the events; readers see the same events either way.
  auto reader = EventLogReader::Open(log_path_);
  ASSERT_TRUE(reader.ok());
  std::vector<uint64_t> logged_ids;
  size_t events = 0;
  while (true) {
    auto block = (*reader)->NextBlock();
    ASSERT_TRUE(block.ok()) << block.status();
    if (block->empty()) break;
    events += block->size();
    for (uint64_t id : (*reader)->block_event_ids()) logged_ids.push_back(id);
  }
  EXPECT_EQ(events, 6u);
  EXPECT_EQ(logged_ids, (std::vector<uint64_t>{a, 0, 0, b, c, EventIdHash("d")}));
}

TEST_F(EventIngestorTest, StoreAheadOfTheLogIsRefused) {
  featurestore::FeatureWriteBatch batch;
  batch.watermark = 10;
  ASSERT_TRUE(store_->Write(batch, featurestore::FeatureWriteOptions()).ok());
  auto ingestor = EventIngestor::Create(log_path_, store_.get(), EventIngestorOptions());
  ASSERT_FALSE(ingestor.ok());
  EXPECT_EQ(ingestor.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(ingestor.status().message().find("built from another log"), std::string::npos);
}

}  // namespace
}  // namespace vrec::serving
