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
    options.lane = serving::FeedServiceLane;
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

// Malformed requests, raw over a socket to the real server: each gets its 4xx, in the JSON
// error shape, and the server keeps serving.
TEST_F(ServerE2eTest, MalformedRequestsGetTheirStatus) {
  auto get = [](const std::string& target, const std::string& extra = "") {
    return absl::StrCat("GET ", target, " HTTP/1.1\r\nHost: x\r\n", extra, "Connection: close\r\n\r\n");
  };
  auto post = [](const std::string& target, const std::string& body, const std::string& extra = "") {
    return absl::StrCat("POST ", target, " HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n", extra,
                        "Content-Length: ", body.size(), "\r\nConnection: close\r\n\r\n", body);
  };
  const std::string event = R"("user_id": 1, "video_id": 2, "type": "click")";
  std::string deep;
  for (int i = 0; i < 40; ++i) deep += "[";
  struct Case {
    std::string name;
    std::string raw;
    int status;
  } cases[] = {
      // HTTP framing (Beast's parser, answered by the server itself).
      {"garbage request line", "GARBAGE\r\n\r\n", 400},
      {"request line without target", "GET\r\n\r\n", 400},
      {"header without a colon", "GET /healthz HTTP/1.1\r\nHost x\r\n\r\n", 400},
      {"space in a header name", "GET /healthz HTTP/1.1\r\nHo st: x\r\n\r\n", 400},
      {"non-numeric Content-Length", "POST /v1/events HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n", 400},
      {"negative Content-Length", "POST /v1/events HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n", 400},
      {"two Content-Lengths", "POST /v1/events HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\n{}",
       400},
      {"bad chunk size", "POST /v1/events HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n{}\r\n0\r\n\r\n",
       400},
      {"headers over the limit", get("/healthz", absl::StrCat("X-Big: ", std::string(20000, 'a'), "\r\n")), 431},
      {"body over the limit", post("/v1/events", std::string(5000, ' ')), 413},
      {"chunked body over the limit",
       absl::StrCat("POST /v1/events HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n1388\r\n",
                    std::string(5000, ' '), "\r\n0\r\n\r\n"),
       413},
      {"endless chunk extension",
       absl::StrCat("POST /v1/events HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n2;ext=",
                    std::string(200000, 'e'), "\r\n{}\r\n0\r\n\r\n"),
       400},
      {"endless trailer",
       absl::StrCat("POST /v1/events HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\nX-T: ",
                    std::string(200000, 't'), "\r\n\r\n"),
       400},
      {"bad percent-escape in the path", get("/v1/fe%zzed?user_id=1"), 400},
      {"bad percent-escape in the query", get("/v1/feed?user_id=%zz"), 400},
      {"truncated percent-escape", get("/v1/feed?user_id=1%2"), 400},
      // The feed's parameters.
      {"feed without user_id", get("/v1/feed"), 400},
      {"non-numeric user_id", get("/v1/feed?user_id=abc"), 400},
      {"negative user_id", get("/v1/feed?user_id=-1"), 400},
      {"user_id over 32 bits", get("/v1/feed?user_id=99999999999999"), 400},
      {"empty user_id", get("/v1/feed?user_id="), 400},
      {"count 0", get("/v1/feed?user_id=1&count=0"), 400},
      {"non-numeric count", get("/v1/feed?user_id=1&count=abc"), 400},
      {"count over the maximum", get("/v1/feed?user_id=1&count=100000"), 400},
      {"unknown device", get("/v1/feed?user_id=1&device=toaster"), 400},
      {"bad exclude list", get("/v1/feed?user_id=1&exclude=1,x"), 400},
      // Routes and methods.
      {"unknown path", get("/v2/feed?user_id=1"), 404},
      {"root", get("/"), 404},
      {"POST to the feed", post("/v1/feed?user_id=1", "{}"), 405},
      {"GET of events", get("/v1/events"), 405},
      {"DELETE of events", "DELETE /v1/events HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", 405},
      {"POST to metrics", post("/metrics", "{}"), 405},
      // Event bodies.
      {"empty body", post("/v1/events", ""), 400},
      {"unterminated object", post("/v1/events", "{"), 400},
      {"not JSON", post("/v1/events", "user_id=1"), 400},
      {"a bare number", post("/v1/events", "42"), 400},
      {"missing video_id", post("/v1/events", R"({"user_id": 1, "type": "click"})"), 400},
      {"missing type", post("/v1/events", R"({"user_id": 1, "video_id": 2})"), 400},
      {"unknown event type", post("/v1/events", R"({"user_id": 1, "video_id": 2, "type": "purchase"})"), 400},
      {"user_id as a string", post("/v1/events", R"({"user_id": "one", "video_id": 2, "type": "click"})"), 400},
      {"negative video_id", post("/v1/events", R"({"user_id": 1, "video_id": -2, "type": "click"})"), 400},
      {"fractional user_id", post("/v1/events", R"({"user_id": 1.5, "video_id": 2, "type": "click"})"), 400},
      {"negative watch time", post("/v1/events", absl::StrCat("{", event, R"(, "watch_time_ms": -5})")), 400},
      {"non-numeric timestamp", post("/v1/events", absl::StrCat("{", event, R"(, "timestamp_ms": "soon"})")), 400},
      {"repeated key", post("/v1/events", R"({"user_id": 1, "user_id": 2, "video_id": 2, "type": "click"})"), 400},
      {"invalid UTF-8", post("/v1/events", absl::StrCat("{", event, ", \"device\": \"\xff\xfe\"}")), 400},
      {"NUL byte", post("/v1/events", absl::StrCat("{", event, std::string(1, '\0'), "}")), 400},
      {"nested too deep", post("/v1/events", deep), 400},
      {"trailing garbage", post("/v1/events", absl::StrCat("{", event, "} x")), 400},
      {"empty event list", post("/v1/events", R"({"events": []})"), 400},
  };
  ASSERT_GE(sizeof(cases) / sizeof(cases[0]), 40u);
  for (const Case& c : cases) {
    auto reply = testing::SendRaw(port_, c.raw);
    ASSERT_TRUE(reply.ok()) << c.name << ": " << reply.status();
    EXPECT_EQ(reply->status, c.status) << c.name << ": " << reply->body;
    EXPECT_EQ(reply->body.rfind("{\"error\":{\"code\":\"", 0), 0u) << c.name << ": " << reply->body;
  }
  auto health = HttpGet(port_, "/healthz");
  ASSERT_TRUE(health.ok());
  EXPECT_EQ(health->status, 200);
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
