#include "serving/feed_service.h"

#include <filesystem>

#include "common/event_log.h"
#include "featurestore/feature_store.h"
#include "gtest/gtest.h"
#include "serving/event_ingestor.h"
#include "tests/testing/temp_dir.h"

namespace vrec::serving {
namespace {

constexpr TimestampMs kNow = 100 * kMsPerDay;

HttpRequest Get(const std::string& path, std::vector<std::pair<std::string, std::string>> params = {}) {
  HttpRequest r;
  r.method = "GET";
  r.path = path;
  r.params = std::move(params);
  return r;
}

HttpRequest Post(const std::string& path, const std::string& body) {
  HttpRequest r;
  r.method = "POST";
  r.path = path;
  r.body = body;
  return r;
}

// Videos 0..9 trend with v+1 clicks in the last hour; video 11 has 50 clicks 30 days ago;
// user 1 (known) watched video 9.
class FeedServiceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const std::string name = ::testing::UnitTest::GetInstance()->current_test_info()->name();
    const std::string dir = testing::TempPath(name + "_store");
    log_path_ = testing::TempPath(name + ".log");
    std::filesystem::remove_all(dir);
    std::filesystem::remove(log_path_);
    auto store = featurestore::FeatureStore::Create(dir, featurestore::FeatureStoreOptions());
    ASSERT_TRUE(store.ok()) << store.status();
    store_ = std::move(*store);
    std::vector<featurestore::VideoFeatures> videos(12);
    for (VideoId v = 0; v < 12; ++v) {
      videos[v].id = v;
      videos[v].known = true;
      videos[v].category = "music";
      videos[v].duration_ms = 60000;
      if (v < 10) videos[v].counters.Add(featurestore::kClicks, v + 1, kNow - kMsPerHour);
    }
    videos[11].counters.Add(featurestore::kClicks, 50, kNow - 30 * kMsPerDay);
    featurestore::UserFeatures user;
    user.id = 1;
    user.known = true;
    user.last_active_ms = kNow - kMsPerHour;
    user.history = {{9, kNow - kMsPerHour, 1.0f, featurestore::HistoryEntry::kWatched}};
    featurestore::FeatureWriteBatch batch;
    for (const featurestore::VideoFeatures& v : videos) batch.videos.push_back(&v);
    batch.users.push_back(&user);
    batch.as_of_ms = kNow;
    ASSERT_TRUE(store_->Write(batch, featurestore::FeatureWriteOptions()).ok());
    auto model = pipeline::LoadFeedModel(*store_, kNow);
    ASSERT_TRUE(model.ok()) << model.status();
    auto ingestor = EventIngestor::Create(log_path_, store_.get(), EventIngestorOptions());
    ASSERT_TRUE(ingestor.ok()) << ingestor.status();
    ingestor_ = std::move(*ingestor);
    clock_ = std::make_unique<ManualClock>(kNow);
    service_ = std::make_unique<FeedService>(FeedServiceOptions(), *model, store_.get(), ingestor_.get(), clock_.get());
  }

  std::string log_path_;
  std::unique_ptr<featurestore::FeatureStore> store_;
  std::unique_ptr<EventIngestor> ingestor_;
  std::unique_ptr<ManualClock> clock_;
  std::unique_ptr<FeedService> service_;
};

TEST_F(FeedServiceTest, FeedLeavesOutWatchedAndExcludedVideos) {
  HttpResponse r = service_->Handle(Get("/v1/feed", {{"user_id", "1"}, {"count", "3"}, {"exclude", "7"}}));
  ASSERT_EQ(r.status, 200) << r.body;
  // Trending order is 9, 8, 7, 6...: 9 is watched, 7 excluded.
  const size_t v8 = r.body.find("\"video_id\":8"), v6 = r.body.find("\"video_id\":6"),
               v5 = r.body.find("\"video_id\":5");
  ASSERT_NE(v8, std::string::npos) << r.body;
  EXPECT_LT(v8, v6);
  EXPECT_LT(v6, v5);
  EXPECT_EQ(r.body.find("\"video_id\":9"), std::string::npos);
  EXPECT_EQ(r.body.find("\"video_id\":7"), std::string::npos);
  EXPECT_NE(r.body.find("\"category\":\"music\""), std::string::npos);
  EXPECT_NE(r.body.find("\"cold_start\":false"), std::string::npos);
}

TEST_F(FeedServiceTest, UnknownUserGetsColdStartFeedFilledFromAllTimePopularity) {
  HttpResponse r = service_->Handle(Get("/v1/feed", {{"user_id", "424242"}, {"count", "11"}, {"debug", "1"}}));
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_NE(r.body.find("\"cold_start\":true"), std::string::npos);
  EXPECT_NE(r.body.find("\"video_id\":9"), std::string::npos);
  // Only 10 videos trend; the 11th comes from all-time popularity alone, and ranks last.
  const size_t v11 = r.body.find("\"video_id\":11,");
  ASSERT_NE(v11, std::string::npos) << r.body;
  EXPECT_EQ(r.body.find("\"video_id\":", v11 + 1), std::string::npos) << r.body;
  EXPECT_NE(r.body.find("\"sources\":[\"popular\"]", v11), std::string::npos) << r.body;
  EXPECT_NE(r.body.find("\"sources\":[\"trending\",\"popular\"]"), std::string::npos) << r.body;
  EXPECT_NE(r.body.find("\"degraded\":false"), std::string::npos) << r.body;
  EXPECT_NE(r.body.find("\"user_features\":{\"profile\":\"missing\",\"activity\":\"missing\",\"history\":\"missing\"}"),
            std::string::npos)
      << r.body;
}

TEST_F(FeedServiceTest, PostedWatchIsExcludedFromTheNextFeed) {
  HttpResponse before = service_->Handle(Get("/v1/feed", {{"user_id", "1"}, {"count", "1"}}));
  ASSERT_NE(before.body.find("\"video_id\":8"), std::string::npos) << before.body;
  const char* watch = R"({"events": [{"user_id": 1, "video_id": 8, "type": "watch", "watch_time_ms": 5000,
                                       "event_id": "4b1f-retry-me"}]})";
  HttpResponse posted = service_->Handle(Post("/v1/events", watch));
  ASSERT_EQ(posted.status, 200) << posted.body;
  EXPECT_EQ(posted.body, R"({"accepted":1,"duplicates":0,"log_events":1})");
  // The client's retry (same event_id) is acknowledged and not counted twice.
  HttpResponse retried = service_->Handle(Post("/v1/events", watch));
  ASSERT_EQ(retried.status, 200) << retried.body;
  EXPECT_EQ(retried.body, R"({"accepted":1,"duplicates":1,"log_events":1})");
  HttpResponse after = service_->Handle(Get("/v1/feed", {{"user_id", "1"}, {"count", "1"}}));
  EXPECT_EQ(after.body.find("\"video_id\":8"), std::string::npos) << after.body;
  EXPECT_NE(after.body.find("\"video_id\":7"), std::string::npos) << after.body;
}

TEST_F(FeedServiceTest, BadEventsAre400AndNothingIsApplied) {
  HttpResponse unknown = service_->Handle(Post(
      "/v1/events",
      R"({"events": [{"user_id": 1, "video_id": 3, "type": "click"}, {"user_id": 1, "video_id": 777, "type": "click"}]})"));
  EXPECT_EQ(unknown.status, 400);
  EXPECT_NE(unknown.body.find("events[1]: unknown video_id 777"), std::string::npos) << unknown.body;
  HttpResponse malformed = service_->Handle(Post("/v1/events", "{\"user_id\": "));
  EXPECT_EQ(malformed.status, 400);
  EXPECT_EQ(ingestor_->log_events(), 0u);  // all or nothing
  auto user = store_->GetUser(1, kNow);
  ASSERT_TRUE(user.ok());
  EXPECT_EQ(user->features.FindHistory(3), nullptr);
  EXPECT_EQ(service_->Handle(Get("/v1/events")).status, 405);
}

TEST_F(FeedServiceTest, BadParametersAre400WithActionableMessages) {
  struct Case {
    std::vector<std::pair<std::string, std::string>> params;
    std::string message;
  } cases[] = {
      {{}, "missing required parameter user_id"},
      {{{"user_id", "abc"}}, "user_id must be an integer"},
      {{{"user_id", "-1"}}, "user_id must be an integer"},
      {{{"user_id", "1"}, {"count", "0"}}, "count must be an integer in [1, 200]"},
      {{{"user_id", "1"}, {"count", "201"}}, "count must be an integer in [1, 200]"},
      {{{"user_id", "1"}, {"exclude", "1,x"}}, "exclude must be comma-separated video ids"},
      {{{"user_id", "1"}, {"debug", "maybe"}}, "debug must be 0 or 1"},
      {{{"user_id", "1"}, {"cuont", "3"}}, "unknown parameter 'cuont'"},
  };
  for (const Case& c : cases) {
    HttpResponse r = service_->Handle(Get("/v1/feed", c.params));
    EXPECT_EQ(r.status, 400) << c.message;
    EXPECT_NE(r.body.find(c.message), std::string::npos) << r.body;
    EXPECT_NE(r.body.find("\"code\":\"invalid_argument\""), std::string::npos);
  }
}

TEST_F(FeedServiceTest, RoutesHealthReadinessMetricsAndErrors) {
  EXPECT_EQ(service_->Handle(Get("/healthz")).status, 200);
  HttpResponse ready = service_->Handle(Get("/readyz"));
  EXPECT_EQ(ready.status, 200);
  EXPECT_NE(ready.body.find("popularity-"), std::string::npos);
  EXPECT_EQ(service_->Handle(Get("/nope")).status, 404);
  HttpRequest post = Get("/v1/feed", {{"user_id", "1"}});
  post.method = "POST";
  HttpResponse wrong = service_->Handle(post);
  EXPECT_EQ(wrong.status, 405);
  ASSERT_EQ(wrong.headers.size(), 1u);
  EXPECT_EQ(wrong.headers[0].second, "GET");
  HttpResponse metrics = service_->Handle(Get("/metrics"));
  EXPECT_NE(metrics.body.find("vrec_http_requests_total{route=\"/v1/feed\",code=\"405\"} 1"), std::string::npos)
      << metrics.body;
  EXPECT_NE(metrics.body.find("vrec_http_requests_total{route=\"other\",code=\"404\"} 1"), std::string::npos);
}

TEST_F(FeedServiceTest, NoModelMeansNotReady) {
  service_->SetModel(nullptr);
  EXPECT_EQ(service_->Handle(Get("/readyz")).status, 503);
  EXPECT_EQ(service_->Handle(Get("/v1/feed", {{"user_id", "1"}})).status, 503);
  EXPECT_EQ(service_->Handle(Get("/healthz")).status, 200);
}

}  // namespace
}  // namespace vrec::serving
