// The feed over real HTTP: a generated world, the real server on 127.0.0.1:0, raw sockets.
#include <atomic>
#include <cstdlib>
#include <regex>
#include <thread>

#include "absl/strings/str_cat.h"
#include "common/event_log.h"
#include "gtest/gtest.h"
#include "serving/feed_service.h"
#include "serving/http_server.h"
#include "tests/testing/http_client.h"
#include "tests/testing/temp_dir.h"
#include "tools/generate.h"

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
    GenerateOptions g;
    g.num_users = 800;
    g.num_videos = 3000;
    g.num_events = 100000;
    g.days = 10;
    g.show_progress = false;
    ASSERT_TRUE(GenerateWorld(*world_, g).ok());
  }

  void SetUp() override {
    auto model = LoadFeedModel(*world_, FeedModelOptions());
    ASSERT_TRUE(model.ok()) << model.status();
    clock_ = std::make_unique<ManualClock>(0);
    service_ = std::make_unique<FeedService>(FeedServiceOptions(), *model, clock_.get());
    HttpServerOptions options;
    options.port = 0;
    options.threads = 2;
    options.body_limit_bytes = 4096;
    auto server = HttpServer::Create(options, [this](const HttpRequest& r) { return service_->Handle(r); });
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = std::move(*server);
    server_->Start();
    port_ = server_->port();
  }

  static std::string* world_;
  std::unique_ptr<ManualClock> clock_;
  std::unique_ptr<FeedService> service_;
  std::unique_ptr<HttpServer> server_;
  uint16_t port_ = 0;
};
std::string* ServerE2eTest::world_ = nullptr;

TEST_F(ServerE2eTest, FeedHasCountItemsNoneAlreadyWatched) {
  auto events = ReadEventLog(WorldEventsPath(*world_));
  ASSERT_TRUE(events.ok());
  // The most active user has the most to exclude.
  std::vector<int> per_user(800, 0);
  for (const Event& e : *events) per_user[e.user_id] += IsEngagement(e.type);
  const UserId user = static_cast<UserId>(std::max_element(per_user.begin(), per_user.end()) - per_user.begin());
  std::set<VideoId> watched;
  for (const Event& e : *events) {
    if (e.user_id == user && IsEngagement(e.type)) watched.insert(e.video_id);
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
