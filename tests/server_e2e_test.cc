// The feed over real HTTP: a generated world, the real server on 127.0.0.1:0, raw sockets.
#include <atomic>
#include <map>
#include <set>
#include <cstdlib>
#include <regex>
#include <thread>

#include "absl/strings/str_cat.h"
#include "common/event_log.h"
#include "gtest/gtest.h"
#include "featurestore/feature_replay.h"
#include "featurestore/feature_store.h"
#include "serving/event_ingestor.h"
#include "serving/feed_service.h"
#include "serving/http_server.h"
#include "tests/testing/http_client.h"
#include "tests/testing/temp_dir.h"
#include "data/generate.h"

namespace vrec {
namespace {

using testing::HttpGet;
using testing::HttpPost;

std::vector<VideoId> VideoIds(const std::string& body) {
  std::vector<VideoId> ids;
  static const std::regex kId("\"video_id\":([0-9]+)");
  for (auto it = std::sregex_iterator(body.begin(), body.end(), kId); it != std::sregex_iterator(); ++it) {
    ids.push_back(static_cast<VideoId>(std::stoul((*it)[1])));
  }
  return ids;
}

class ServerE2eTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    world_ = new std::string(testing::TempPath("server_world"));
    data::GenerateOptions g;
    g.num_users = 800;
    g.num_videos = 3000;
    g.num_events = 100000;
    g.days = 10;
    g.show_progress = false;
    ASSERT_TRUE(data::GenerateWorld(*world_, g).ok());
    featurestore::FeaturizeOptions f;
    f.show_progress = false;
    ASSERT_TRUE(featurestore::Featurize(*world_, *world_ + "/features", f).ok());
  }

  void SetUp() override { Start(); }

  void Start() {
    auto store = featurestore::FeatureStore::Open(*world_ + "/features", featurestore::FeatureStoreOptions());
    ASSERT_TRUE(store.ok()) << store.status();
    store_ = std::move(*store);
    auto ingestor =
        serving::EventIngestor::Create(WorldEventsPath(*world_), store_.get(), serving::EventIngestorOptions());
    ASSERT_TRUE(ingestor.ok()) << ingestor.status();
    ingestor_ = std::move(*ingestor);
    auto model = pipeline::LoadFeedModel(*store_, store_->as_of_ms());
    ASSERT_TRUE(model.ok()) << model.status();
    clock_ = std::make_unique<ManualClock>(store_->as_of_ms());
    service_ = std::make_unique<serving::FeedService>(serving::FeedServiceOptions(), *model, store_.get(),
                                                      ingestor_.get(), clock_.get());
    serving::HttpServerOptions options;
    options.port = 0;
    options.threads = 2;
    options.body_limit_bytes = 4096;
    auto server =
        serving::HttpServer::Create(options, [this](const serving::HttpRequest& r) { return service_->Handle(r); });
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = std::move(*server);
    server_->Start();
    port_ = server_->port();
  }

  // Tears everything down in dependency order, as a process exit would.
  void Stop() {
    server_.reset();
    service_.reset();
    ingestor_.reset();
    store_.reset();
  }

  static std::string* world_;
  std::unique_ptr<featurestore::FeatureStore> store_;
  std::unique_ptr<serving::EventIngestor> ingestor_;
  std::unique_ptr<ManualClock> clock_;
  std::unique_ptr<serving::FeedService> service_;
  std::unique_ptr<serving::HttpServer> server_;
  uint16_t port_ = 0;
};
std::string* ServerE2eTest::world_ = nullptr;

TEST_F(ServerE2eTest, FeedHasCountItemsNoneAlreadyWatched) {
  auto events = ReadEventLog(WorldEventsPath(*world_));
  ASSERT_TRUE(events.ok());
  // The most active user whose whole history fits the store's history length (100).
  std::map<UserId, std::set<VideoId>> engaged;
  for (const Event& e : *events) {
    if (IsEngagement(e.type)) engaged[e.user_id].insert(e.video_id);
  }
  UserId user = 0;
  std::set<VideoId> watched;
  for (const auto& [u, videos] : engaged) {
    if (videos.size() <= featurestore::FeatureUpdateOptions().history_length && videos.size() > watched.size()) {
      user = u;
      watched = videos;
    }
  }
  ASSERT_GT(watched.size(), 5u);
  auto reply = HttpGet(port_, absl::StrCat("/v1/feed?user_id=", user, "&count=50"));
  ASSERT_TRUE(reply.ok()) << reply.status();
  ASSERT_EQ(reply->status, 200) << reply->body;
  EXPECT_NE(reply->headers.find("content-type: application/json"), std::string::npos);
  const std::vector<VideoId> ids = VideoIds(reply->body);
  ASSERT_EQ(ids.size(), 50u);
  std::set<VideoId> distinct(ids.begin(), ids.end());
  EXPECT_EQ(distinct.size(), 50u);
  for (VideoId v : ids) EXPECT_EQ(watched.count(v), 0u) << "served an already watched video " << v;
  EXPECT_NE(reply->body.find("\"request_id\":\""), std::string::npos);
  EXPECT_NE(reply->body.find("\"model_version\":\"popularity-"), std::string::npos);
  EXPECT_NE(reply->body.find("\"degraded\":false"), std::string::npos);
}

TEST_F(ServerE2eTest, UnknownUserGetsAColdStartFeed) {
  auto reply = HttpGet(port_, "/v1/feed?user_id=4000000000&count=10");
  ASSERT_TRUE(reply.ok());
  ASSERT_EQ(reply->status, 200) << reply->body;
  EXPECT_EQ(VideoIds(reply->body).size(), 10u);
  EXPECT_NE(reply->body.find("\"cold_start\":true"), std::string::npos);
}

TEST_F(ServerE2eTest, ErrorsAreJsonWithTheRightStatus) {
  struct Case {
    std::string target;
    int status;
    std::string code;
  } cases[] = {
      {"/v1/feed", 400, "invalid_argument"},
      {"/v1/feed?user_id=1&count=abc", 400, "invalid_argument"},
      {"/v1/feed?user_id=1&count=100000", 400, "invalid_argument"},
      {"/v2/feed?user_id=1", 404, "not_found"},
  };
  for (const Case& c : cases) {
    auto reply = HttpGet(port_, c.target);
    ASSERT_TRUE(reply.ok()) << c.target;
    EXPECT_EQ(reply->status, c.status) << c.target;
    EXPECT_NE(reply->body.find(absl::StrCat("{\"error\":{\"code\":\"", c.code, "\",\"message\":\"")),
              std::string::npos)
        << reply->body;
  }
  auto post = HttpPost(port_, "/v1/feed?user_id=1", "{}");
  ASSERT_TRUE(post.ok());
  EXPECT_EQ(post->status, 405);
  EXPECT_NE(post->headers.find("allow: get"), std::string::npos) << post->headers;
  auto big = HttpPost(port_, "/v1/events", std::string(10000, '{'));
  ASSERT_TRUE(big.ok());
  EXPECT_EQ(big->status, 413);
  auto bad_event = HttpPost(port_, "/v1/events", R"({"user_id": 1, "video_id": 2, "type": "purchase"})");
  ASSERT_TRUE(bad_event.ok());
  EXPECT_EQ(bad_event->status, 400);
  EXPECT_NE(bad_event->body.find("unknown event type 'purchase'"), std::string::npos) << bad_event->body;
}

TEST_F(ServerE2eTest, PostedWatchIsExcludedAndSurvivesARestart) {
  const UserId user = 3;
  auto before = HttpGet(port_, absl::StrCat("/v1/feed?user_id=", user, "&count=5"));
  ASSERT_TRUE(before.ok());
  const std::vector<VideoId> first = VideoIds(before->body);
  ASSERT_EQ(first.size(), 5u);
  const VideoId top = first[0];
  const uint64_t logged_before = ingestor_->log_events();
  auto posted = HttpPost(port_, "/v1/events",
                         absl::StrCat(R"({"events": [{"user_id": )", user, R"(, "video_id": )", top,
                                      R"(, "type": "click"}, {"user_id": )", user, R"(, "video_id": )", top,
                                      R"(, "type": "watch", "watch_time_ms": 20000}]})"));
  ASSERT_TRUE(posted.ok());
  ASSERT_EQ(posted->status, 200) << posted->body;
  EXPECT_NE(posted->body.find("\"accepted\":2"), std::string::npos);
  auto after = HttpGet(port_, absl::StrCat("/v1/feed?user_id=", user, "&count=5"));
  ASSERT_TRUE(after.ok());
  const std::vector<VideoId> second = VideoIds(after->body);
  EXPECT_EQ(std::count(second.begin(), second.end(), top), 0) << "the watched video came back";
  EXPECT_EQ(second[0], first[1]);

  Stop();
  Start();
  EXPECT_EQ(ingestor_->log_events(), logged_before + 2);
  EXPECT_EQ(store_->watermark(), logged_before + 2);
  auto restarted = HttpGet(port_, absl::StrCat("/v1/feed?user_id=", user, "&count=5"));
  ASSERT_TRUE(restarted.ok());
  const std::vector<VideoId> third = VideoIds(restarted->body);
  EXPECT_EQ(std::count(third.begin(), third.end(), top), 0);
}

TEST_F(ServerE2eTest, ConcurrentClientsAllSucceedAndMetricsCountThem) {
  std::atomic<int> ok{0};
  std::vector<std::thread> clients;
  for (int t = 0; t < 4; ++t) {
    clients.emplace_back([&, t] {
      for (int i = 0; i < 25; ++i) {
        auto reply = HttpGet(port_, absl::StrCat("/v1/feed?user_id=", t * 100 + i, "&count=20"));
        if (reply.ok() && reply->status == 200 && VideoIds(reply->body).size() == 20) ++ok;
      }
    });
  }
  for (std::thread& c : clients) c.join();
  EXPECT_EQ(ok.load(), 100);
  auto metrics = HttpGet(port_, "/metrics");
  ASSERT_TRUE(metrics.ok());
  EXPECT_NE(metrics->body.find("vrec_http_requests_total{route=\"/v1/feed\",code=\"200\"} 100"),
            std::string::npos)
      << metrics->body;
  auto ready = HttpGet(port_, "/readyz");
  ASSERT_TRUE(ready.ok());
  EXPECT_EQ(ready->status, 200);
}

}  // namespace
}  // namespace vrec
