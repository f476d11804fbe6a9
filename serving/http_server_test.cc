#include "serving/http_server.h"

#include <atomic>
#include <chrono>
#include <stdexcept>
#include <thread>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "tests/testing/http_client.h"

namespace vrec::serving {
namespace {

using testing::HttpGet;
using testing::HttpPost;
using testing::SendPipelined;
using testing::SendRaw;

class HttpServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    HttpServerOptions options;
    options.port = 0;
    options.body_limit_bytes = 1024;
    options.header_limit_bytes = 2048;
    auto server = HttpServer::Create(options, [](const HttpRequest& r) {
      if (r.path == "/throw") throw std::runtime_error("boom");
      HttpResponse response;
      std::string params;
      for (const auto& [k, v] : r.params) absl::StrAppend(&params, k, "=", v, ";");
      response.body = absl::StrCat(r.method, " ", r.path, " ", params, " ", r.body.size());
      response.content_type = "text/plain";
      return response;
    });
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = std::move(*server);
    server_->Start();
    port_ = server_->port();
    ASSERT_GT(port_, 0);
  }
  std::unique_ptr<HttpServer> server_;
  uint16_t port_ = 0;
};

TEST(AnswerWireTest, ReadsOneRequestAsAConnectionWould) {
  HttpServerOptions options;
  options.body_limit_bytes = 64;
  const HttpHandler echo = [](const HttpRequest& r) {
    HttpResponse response;
    response.body = absl::StrCat(r.method, " ", r.path, " ", r.body);
    return response;
  };
  EXPECT_EQ(AnswerWire("POST /a%20b HTTP/1.1\r\nContent-Length: 2\r\n\r\nhi", options, echo).body, "POST /a b hi");
  EXPECT_EQ(AnswerWire("POST /c HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nhi\r\n0\r\n\r\n", options, echo).body,
            "POST /c hi");
  EXPECT_EQ(AnswerWire("POST /a HTTP/1.1\r\nContent-Length: 5\r\n\r\nhi", options, echo).status, 400);
  EXPECT_EQ(AnswerWire("", options, echo).status, 400);
  EXPECT_EQ(AnswerWire("GARBAGE\r\n\r\n", options, echo).status, 400);
  EXPECT_EQ(AnswerWire(absl::StrCat("POST /a HTTP/1.1\r\nContent-Length: 100\r\n\r\n", std::string(100, 'x')), options,
                       echo)
                .status,
            413);
  const HttpResponse extension = AnswerWire(
      absl::StrCat("POST /a HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n2;x=", std::string(100000, 'e'), "\r\nhi\r\n0\r\n\r\n"),
      options, echo);
  EXPECT_EQ(extension.status, 400);
  EXPECT_NE(extension.body.find("exceeds"), std::string::npos) << extension.body;
}

TEST_F(HttpServerTest, DecodesPathAndQuery) {
  auto reply = HttpGet(port_, "/v1/x%20y?a=1&b=two+words&c=%2C&flag");
  ASSERT_TRUE(reply.ok()) << reply.status();
  EXPECT_EQ(reply->status, 200);
  EXPECT_EQ(reply->body, "GET /v1/x y a=1;b=two words;c=,;flag=; 0");
}

TEST_F(HttpServerTest, PostBodyIsPassedThrough) {
  auto reply = HttpPost(port_, "/e", std::string(100, 'x'));
  ASSERT_TRUE(reply.ok());
  EXPECT_EQ(reply->body, "POST /e  100");
}

TEST_F(HttpServerTest, BadPercentEscapeIs400Json) {
  auto reply = HttpGet(port_, "/v1/feed?user_id=%zz");
  ASSERT_TRUE(reply.ok());
  EXPECT_EQ(reply->status, 400);
  EXPECT_NE(reply->body.find("\"code\":\"bad_request\""), std::string::npos) << reply->body;
}

TEST_F(HttpServerTest, GarbageRequestIs400) {
  auto reply = SendRaw(port_, "HELLO THERE\r\n\r\n");
  ASSERT_TRUE(reply.ok()) << reply.status();
  EXPECT_EQ(reply->status, 400);
  EXPECT_NE(reply->body.find("malformed HTTP request"), std::string::npos) << reply->body;
}

TEST_F(HttpServerTest, OversizedBodyIs413) {
  auto reply = HttpPost(port_, "/e", std::string(5000, 'x'));
  ASSERT_TRUE(reply.ok()) << reply.status();
  EXPECT_EQ(reply->status, 413);
  EXPECT_NE(reply->body.find("payload_too_large"), std::string::npos);
}

TEST_F(HttpServerTest, OversizedHeadersAre431) {
  auto reply = SendRaw(port_, absl::StrCat("GET / HTTP/1.1\r\nHost: x\r\nX-Big: ", std::string(4000, 'a'),
                                           "\r\n\r\n"));
  ASSERT_TRUE(reply.ok()) << reply.status();
  EXPECT_EQ(reply->status, 431);
}

TEST_F(HttpServerTest, ThrowingHandlerIs500AndServerSurvives) {
  auto reply = HttpGet(port_, "/throw");
  ASSERT_TRUE(reply.ok());
  EXPECT_EQ(reply->status, 500);
  EXPECT_NE(reply->body.find("boom"), std::string::npos);
  auto after = HttpGet(port_, "/ok");
  ASSERT_TRUE(after.ok());
  EXPECT_EQ(after->status, 200);
}

TEST_F(HttpServerTest, KeepAliveServesSeveralRequestsOnOneConnection) {
  const std::string req = "GET /k HTTP/1.1\r\nHost: x\r\n\r\n";
  auto replies = SendPipelined(port_, {req, req, req});
  ASSERT_TRUE(replies.ok()) << replies.status();
  ASSERT_EQ(replies->size(), 3u);
  for (const auto& r : *replies) EXPECT_EQ(r.status, 200);
}

// HEAD gets GET's headers, Content-Length included, and no body: a body would be read as the
// next response on the kept-alive connection.
TEST_F(HttpServerTest, HeadHasNoBodyAndKeepsTheConnectionInStep) {
  auto replies = SendPipelined(port_, {"HEAD /k HTTP/1.1\r\nHost: x\r\n\r\n", "GET /k HTTP/1.1\r\nHost: x\r\n\r\n"});
  ASSERT_TRUE(replies.ok()) << replies.status();
  ASSERT_EQ(replies->size(), 2u);
  EXPECT_EQ((*replies)[0].status, 200);
  EXPECT_EQ((*replies)[0].body, "");
  EXPECT_NE((*replies)[0].headers.find(absl::StrCat("content-length: ", std::string("HEAD /k  0").size())),
            std::string::npos)
      << (*replies)[0].headers;
  EXPECT_EQ((*replies)[1].status, 200);
  EXPECT_EQ((*replies)[1].body, "GET /k  0");
}

TEST(HttpServerCreateTest, RejectsBadOptions) {
  HttpServerOptions options;
  options.address = "not-an-address";
  auto handler = [](const HttpRequest&) { return HttpResponse(); };
  EXPECT_EQ(HttpServer::Create(options, handler).status().code(), absl::StatusCode::kInvalidArgument);
  options.address = "127.0.0.1";
  options.threads = 0;
  EXPECT_EQ(HttpServer::Create(options, handler).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(HttpServerCreateTest, PortInUseIsUnavailable) {
  HttpServerOptions options;
  options.port = 0;
  auto handler = [](const HttpRequest&) { return HttpResponse(); };
  auto first = HttpServer::Create(options, handler);
  ASSERT_TRUE(first.ok());
  options.port = (*first)->port();
  auto second = HttpServer::Create(options, handler);
  // SO_REUSEADDR does not allow two listeners on one port.
  EXPECT_EQ(second.status().code(), absl::StatusCode::kUnavailable) << second.status();
}

// Each server thread runs thread_init before it serves, and the handler sees what it built
// (thread-local state, as the server's per-thread warm-up uses it).
TEST(HttpServerCreateTest, ThreadInitRunsOnEveryServerThreadBeforeServing) {
  HttpServerOptions options;
  options.port = 0;
  options.threads = 3;
  static thread_local int warmed = -1;
  std::atomic<int> ran{0}, mask{0};
  options.thread_init = [&](int thread) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));  // slow: Start() must wait
    warmed = thread;
    mask |= 1 << thread;
    ++ran;
  };
  auto server = HttpServer::Create(options, [](const HttpRequest&) {
    HttpResponse response;
    response.body = absl::StrCat(warmed);
    return response;
  });
  ASSERT_TRUE(server.ok()) << server.status();
  (*server)->Start();
  EXPECT_EQ(ran.load(), 3);  // all of them, before Start() returned
  EXPECT_EQ(mask.load(), 0b111);
  auto reply = HttpGet((*server)->port(), "/x");
  ASSERT_TRUE(reply.ok()) << reply.status();
  EXPECT_NE(reply->body, "-1");  // served by a thread that ran its init
}

TEST(StatusToResponseTest, MapsCodes) {
  EXPECT_EQ(StatusToResponse(absl::InvalidArgumentError("x")).status, 400);
  EXPECT_EQ(StatusToResponse(absl::NotFoundError("x")).status, 404);
  EXPECT_EQ(StatusToResponse(absl::UnavailableError("x")).status, 503);
  EXPECT_EQ(StatusToResponse(absl::InternalError("x")).status, 500);
  EXPECT_EQ(StatusToResponse(absl::InvalidArgumentError("bad \"q\"")).body,
            R"({"error":{"code":"invalid_argument","message":"bad \"q\""}})");
}

// Saturated: a slow work lane refuses what it cannot serve soon with 503 + Retry-After at
// once, while inline health checks keep answering; connections over the cap get 503 too.
TEST(HttpServerOverloadTest, ShedsWithRetryAfterAndKeepsHealthChecksFast) {
  HttpServerOptions options;
  options.port = 0;
  options.threads = 1;
  options.max_queue_wait_ms = 20;
  options.retry_after_ms = 250;
  options.lane = [](const HttpRequest& r) { return r.path == "/healthz" ? HttpLane::kInline : HttpLane::kWork; };
  auto server = HttpServer::Create(options, [](const HttpRequest& r) {
    if (r.path == "/slow") std::this_thread::sleep_for(std::chrono::milliseconds(50));
    HttpResponse response;
    response.body = "{}";
    return response;
  });
  ASSERT_TRUE(server.ok()) << server.status();
  (*server)->Start();
  const uint16_t port = (*server)->port();
  // Warm the lane's service-time estimate: the first slow request runs alone.
  ASSERT_EQ(HttpGet(port, "/slow")->status, 200);

  std::atomic<int> ok{0}, shed{0}, other{0};
  std::atomic<int64_t> slowest_shed_ms{0};
  std::vector<std::thread> clients;
  for (int i = 0; i < 12; ++i) {
    clients.emplace_back([&] {
      const auto start = std::chrono::steady_clock::now();
      auto reply = HttpGet(port, "/slow");
      const int64_t ms =
          std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - start).count();
      if (!reply.ok()) {
        ++other;
      } else if (reply->status == 200) {
        ++ok;
      } else if (reply->status == 503 && reply->headers.find("retry-after: 1") != std::string::npos &&
                 reply->headers.find("retry-after-ms: 250") != std::string::npos &&
                 reply->body.find("\"overloaded\"") != std::string::npos) {
        ++shed;
        int64_t prev = slowest_shed_ms.load();
        while (ms > prev && !slowest_shed_ms.compare_exchange_weak(prev, ms)) {
        }
      } else {
        ++other;
      }
    });
  }
  // While the lane is saturated, the inline lane answers.
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  const auto health_start = std::chrono::steady_clock::now();
  auto health = HttpGet(port, "/healthz");
  const double health_ms =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - health_start).count();
  for (std::thread& t : clients) t.join();
  ASSERT_TRUE(health.ok());
  EXPECT_EQ(health->status, 200);
  EXPECT_LT(health_ms, 40.0) << "one slow request takes 50 ms";
  EXPECT_EQ(other.load(), 0);
  EXPECT_GE(ok.load(), 1);
  EXPECT_GE(shed.load(), 6) << "12 requests of 50 ms cannot all wait 20 ms";
  // Refused at admission, or (on a loaded machine) after waiting past the queue deadline.
  const HttpServerStats stats = (*server)->stats();
  EXPECT_EQ(stats.shed_queue_full + stats.shed_deadline, static_cast<uint64_t>(shed.load()));
  EXPECT_GE(stats.shed_queue_full, 1u);
  (*server)->Stop();
}

TEST(HttpServerOverloadTest, ConnectionsOverTheCapGet503) {
  HttpServerOptions options;
  options.port = 0;
  options.max_connections = 2;
  auto server = HttpServer::Create(options, [](const HttpRequest&) { return HttpResponse(); });
  ASSERT_TRUE(server.ok());
  (*server)->Start();
  const uint16_t port = (*server)->port();
  // Two idle keep-alive connections hold the cap.
  std::vector<int> held;
  for (int i = 0; i < 2; ++i) {
    const int fd = testing::ConnectTo(port);
    ASSERT_GE(fd, 0);
    held.push_back(fd);
  }
  for (int i = 0; i < 200 && (*server)->stats().connections < 2; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  auto refused = HttpGet(port, "/x");
  ASSERT_TRUE(refused.ok()) << refused.status();
  EXPECT_EQ(refused->status, 503);
  EXPECT_NE(refused->body.find("too many connections"), std::string::npos) << refused->body;
  EXPECT_EQ((*server)->stats().shed_connections, 1u);
  for (int fd : held) testing::CloseConnection(fd);
  for (int i = 0; i < 200 && (*server)->stats().connections > 0; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  EXPECT_EQ(HttpGet(port, "/x")->status, 200);
  (*server)->Stop();
}

}  // namespace
}  // namespace vrec::serving
