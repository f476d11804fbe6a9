#include "serving/impression_log.h"

#include <cstdlib>
#include <fstream>
#include <thread>

#include "gtest/gtest.h"

namespace vrec::serving {
namespace {

std::string TempPath(const std::string& name) {
  const char* dir = std::getenv("TEST_TMPDIR");
  const std::string path = std::string(dir ? dir : "/tmp") + "/" + name;
  std::remove(path.c_str());
  return path;
}

data::ServedFeed Feed(RequestId id, int items) {
  data::ServedFeed f;
  f.request_id = id;
  f.time_ms = 1700000000000 + id;
  f.user_id = 42;
  f.model_version = "3";
  for (int i = 0; i < items; ++i) f.items.push_back({static_cast<VideoId>(100 + i), static_cast<uint16_t>(i), 0.5f, i == 2 ? 0.01f : 1.0f});
  return f;
}

TEST(ImpressionLogTest, RoundTripsFeedsFromManyThreadsAndSkipsATornTail) {
  const std::string path = TempPath("impressions.jsonl");
  {
    auto log = ImpressionLog::Open(path);
    ASSERT_TRUE(log.ok()) << log.status();
    std::vector<std::thread> threads;
    for (int t = 0; t < 4; ++t) {
      threads.emplace_back([&, t] {
        for (int i = 0; i < 50; ++i) ASSERT_TRUE((*log)->Append(Feed(0xabc0000 + t * 1000 + i, 5)).ok());
      });
    }
    for (std::thread& t : threads) t.join();
    EXPECT_EQ((*log)->appended(), 200u);
  }
  std::ofstream(path, std::ios::app) << "{\"request_id\":\"00";  // a crash mid-line
  auto feeds = data::ReadImpressionLog(path);
  ASSERT_TRUE(feeds.ok()) << feeds.status();
  ASSERT_EQ(feeds->size(), 200u);
  int found = 0;
  for (const data::ServedFeed& f : *feeds) {
    ASSERT_EQ(f.items.size(), 5u);
    EXPECT_EQ(f.user_id, 42u);
    EXPECT_EQ(f.model_version, "3");
    EXPECT_EQ(f.time_ms, 1700000000000 + static_cast<TimestampMs>(f.request_id));
    EXPECT_FLOAT_EQ(f.items[2].propensity, 0.01f);
    EXPECT_EQ(f.items[4].position, 4);
    found += f.request_id == 0xabc0000 + 3 * 1000 + 49;
  }
  EXPECT_EQ(found, 1);
}

TEST(ImpressionLogTest, MalformedLineNamesIt) {
  const std::string path = TempPath("bad.jsonl");
  {
    auto log = ImpressionLog::Open(path);
    ASSERT_TRUE((*log)->Append(Feed(1, 1)).ok());
  }
  std::ofstream(path, std::ios::app) << "{\"request_id\":5}\n";
  auto feeds = data::ReadImpressionLog(path);
  ASSERT_FALSE(feeds.ok());
  EXPECT_NE(feeds.status().message().find(":2:"), std::string::npos) << feeds.status();
  EXPECT_EQ(data::ReadImpressionLog(TempPath("missing.jsonl")).status().code(), absl::StatusCode::kNotFound);
  EXPECT_FALSE(ImpressionLog::Open("/nonexistent-dir/x.jsonl").ok());
}

TEST(ImpressionLogTest, RotatesAtItsSizeCapKeepingTheNewestFiles) {
  const std::string path = TempPath("rotating.jsonl");
  for (int i = 1; i <= 3; ++i) std::remove((path + "." + std::to_string(i)).c_str());
  ImpressionLogOptions options;
  options.max_bytes = 2000;
  options.keep = 2;
  auto log = ImpressionLog::Open(path, options);
  ASSERT_TRUE(log.ok()) << log.status();
  for (int i = 0; i < 100; ++i) ASSERT_TRUE((*log)->Append(Feed(1000 + i, 5)).ok());
  EXPECT_GT((*log)->rotations(), 2u);
  auto size = [](const std::string& p) {
    std::ifstream in(p, std::ios::binary | std::ios::ate);
    return in ? static_cast<long>(in.tellg()) : -1L;
  };
  EXPECT_GT(size(path), 0);
  EXPECT_LE(size(path), 2000);
  EXPECT_GT(size(path + ".1"), 0);
  EXPECT_LE(size(path + ".2"), 2000);
  EXPECT_EQ(size(path + ".3"), -1) << "only `keep` rotated files stay";
  // The newest feed is in the current file, whole lines only.
  std::ifstream in(path);
  std::string line, last;
  while (std::getline(in, line)) last = line;
  EXPECT_NE(last.find(data::FormatServedFeed(Feed(1099, 5))), std::string::npos) << last;
}

}  // namespace
}  // namespace vrec::serving
