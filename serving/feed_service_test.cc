#include "serving/feed_service.h"

#include "gtest/gtest.h"

namespace vrec {
namespace {

Event Engage(UserId u, VideoId v, TimestampMs t) {
  Event e;
  e.user_id = u;
  e.video_id = v;
  e.timestamp_ms = t;
  e.type = EventType::kClick;
  return e;
}

// Videos 0..9; video v has v+1 recent engagements by user 100+v; user 1 watched video 9.
std::shared_ptr<const FeedModel> SmallModel() {
  auto model = std::make_shared<FeedModel>();
  std::vector<User> users = {{1, "DE", "de", 3, 0}};
  std::vector<Video> videos;
  for (VideoId v = 0; v < 12; ++v) {
    Video video;
    video.id = v;
    video.category = "music";
    videos.push_back(video);
  }
  model->catalog = Catalog(users, videos);
  TrendingBuilder trending({1000, 500});
  TrendingBuilder popular({1000, 0});
  WatchHistoryBuilder history;
  std::vector<Event> events;
  for (VideoId v = 0; v < 10; ++v) {
    for (VideoId i = 0; i <= v; ++i) events.push_back(Engage(100 + v, v, 900));
  }
  events.push_back(Engage(1, 9, 900));
  for (int i = 0; i < 50; ++i) events.push_back(Engage(200, 11, 10));  // old hit
  for (const Event& e : events) {
    trending.Add(e);
    popular.Add(e);
    history.Add(e);
  }
  model->trending = std::move(trending).Build();
  model->popular = std::move(popular).Build();
  model->history = std::move(history).Build();
  model->version = "test-v1";
  return model;
}

HttpRequest Get(const std::string& path, std::vector<std::pair<std::string, std::string>> params = {}) {
  HttpRequest r;
  r.method = "GET";
  r.path = path;
  r.params = std::move(params);
  return r;
}

class FeedServiceTest : public ::testing::Test {
 protected:
  FeedServiceTest() : clock_(1000), service_(FeedServiceOptions(), SmallModel(), &clock_) {}
  ManualClock clock_;
  FeedService service_;
};

TEST_F(FeedServiceTest, FeedLeavesOutWatchedAndExcludedVideos) {
  HttpResponse r = service_.Handle(Get("/v1/feed", {{"user_id", "1"}, {"count", "3"}, {"exclude", "7"}}));
  ASSERT_EQ(r.status, 200) << r.body;
  // Trending order is 9, 8, 7, 6...: 9 is watched, 7 excluded.
  const size_t v8 = r.body.find("\"video_id\":8"), v6 = r.body.find("\"video_id\":6"),
               v5 = r.body.find("\"video_id\":5");
  EXPECT_NE(v8, std::string::npos) << r.body;
  EXPECT_LT(v8, v6);
  EXPECT_LT(v6, v5);
  EXPECT_EQ(r.body.find("\"video_id\":9"), std::string::npos);
  EXPECT_EQ(r.body.find("\"video_id\":7"), std::string::npos);
  EXPECT_NE(r.body.find("\"model_version\":\"test-v1\""), std::string::npos);
  EXPECT_NE(r.body.find("\"cold_start\":false"), std::string::npos);
}

TEST_F(FeedServiceTest, UnknownUserGetsColdStartFeedFilledFromAllTimePopularity) {
  HttpResponse r = service_.Handle(Get("/v1/feed", {{"user_id", "424242"}, {"count", "11"}, {"debug", "1"}}));
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_NE(r.body.find("\"cold_start\":true"), std::string::npos);
  EXPECT_NE(r.body.find("\"video_id\":9"), std::string::npos);
  // Only 10 videos trend; the 11th comes from all-time popularity.
  EXPECT_NE(r.body.find("\"video_id\":11,\"score\":1,\"sources\":[\"popular\"]"), std::string::npos) << r.body;
  EXPECT_NE(r.body.find("\"debug\""), std::string::npos);
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
    HttpResponse r = service_.Handle(Get("/v1/feed", c.params));
    EXPECT_EQ(r.status, 400) << c.message;
    EXPECT_NE(r.body.find(c.message), std::string::npos) << r.body;
    EXPECT_NE(r.body.find("\"code\":\"invalid_argument\""), std::string::npos);
  }
}

TEST_F(FeedServiceTest, RoutesHealthReadinessMetricsAndErrors) {
  EXPECT_EQ(service_.Handle(Get("/healthz")).status, 200);
  HttpResponse ready = service_.Handle(Get("/readyz"));
  EXPECT_EQ(ready.status, 200);
  EXPECT_NE(ready.body.find("test-v1"), std::string::npos);
  EXPECT_EQ(service_.Handle(Get("/nope")).status, 404);
  HttpRequest post = Get("/v1/feed", {{"user_id", "1"}});
  post.method = "POST";
  HttpResponse wrong = service_.Handle(post);
  EXPECT_EQ(wrong.status, 405);
  ASSERT_EQ(wrong.headers.size(), 1u);
  EXPECT_EQ(wrong.headers[0].second, "GET");
  HttpResponse metrics = service_.Handle(Get("/metrics"));
  EXPECT_NE(metrics.body.find("vrec_http_requests_total{route=\"/v1/feed\",code=\"405\"} 1"), std::string::npos)
      << metrics.body;
  EXPECT_NE(metrics.body.find("vrec_http_requests_total{route=\"other\",code=\"404\"} 1"), std::string::npos);
}

TEST_F(FeedServiceTest, NoModelMeansNotReady) {
  service_.SetModel(nullptr);
  EXPECT_EQ(service_.Handle(Get("/readyz")).status, 503);
  EXPECT_EQ(service_.Handle(Get("/v1/feed", {{"user_id", "1"}})).status, 503);
  EXPECT_EQ(service_.Handle(Get("/healthz")).status, 200);
}

}  // namespace
}  // namespace vrec
