#include "serving/event_json.h"

#include "absl/strings/str_cat.h"
#include "common/event_log.h"
#include "common/random.h"
#include "gtest/gtest.h"

namespace vrec::serving {
namespace {

constexpr TimestampMs kNow = 1767225600000;

TEST(EventJsonTest, ParsesOneEventAndBatches) {
  auto one = ParseEventsJson(R"({"user_id": 7, "video_id": 42, "type": "watch", "watch_time_ms": 31000,
                                 "position": 3, "device": "tv", "request_id": "00ab"})", kNow, {});
  ASSERT_TRUE(one.ok()) << one.status();
  ASSERT_EQ(one->events.size(), 1u);
  EXPECT_TRUE(one->event_ids.empty());
  const Event& e = one->events[0];
  EXPECT_EQ(e.user_id, 7u);
  EXPECT_EQ(e.video_id, 42u);
  EXPECT_EQ(e.type, EventType::kWatch);
  EXPECT_EQ(e.watch_time_ms, 31000u);
  EXPECT_EQ(e.timestamp_ms, kNow);  // defaults to the server's clock
  EXPECT_EQ(e.position, 3);
  EXPECT_EQ(e.device, Device::kTv);
  EXPECT_EQ(e.request_id, 0xabu);
  auto batch = ParseEventsJson(R"({"events": [{"user_id": 1, "video_id": 2, "type": "click", "timestamp_ms": 5},
                                              {"user_id": 1, "video_id": 3, "type": "like"}]})", kNow, {});
  ASSERT_TRUE(batch.ok()) << batch.status();
  ASSERT_EQ(batch->events.size(), 2u);
  EXPECT_EQ(batch->events[0].timestamp_ms, 5);
  EXPECT_EQ(batch->events[1].position, kUnknownPosition);
}

TEST(EventJsonTest, EventIdsHashStablyAndOnlyWhereGiven) {
  auto batch = ParseEventsJson(R"({"events": [{"user_id": 1, "video_id": 2, "type": "click", "event_id": "a-1"},
                                              {"user_id": 1, "video_id": 3, "type": "like"},
                                              {"user_id": 1, "video_id": 3, "type": "like", "event_id": "a-2"}]})",
                               kNow, {});
  ASSERT_TRUE(batch.ok()) << batch.status();
  ASSERT_EQ(batch->event_ids.size(), 3u);
  EXPECT_EQ(batch->event_ids[0], EventIdHash("a-1"));
  EXPECT_EQ(batch->event_ids[1], 0u);
  EXPECT_EQ(batch->event_ids[2], EventIdHash("a-2"));
  EXPECT_NE(EventIdHash("a-1"), EventIdHash("a-2"));
  // The hash is part of the log format: it must not change between builds.
  EXPECT_EQ(EventIdHash(""), SplitMix64(0xcbf29ce484222325ULL));
  for (const char* bad : {R"({"user_id": 1, "video_id": 1, "type": "click", "event_id": ""})",
                          R"({"user_id": 1, "video_id": 1, "type": "click", "event_id": 7})"}) {
    EXPECT_NE(ParseEventsJson(bad, kNow, {}).status().message().find("event_id must be"), std::string::npos) << bad;
  }
  const std::string too_long = absl::StrCat(R"({"user_id": 1, "video_id": 1, "type": "click", "event_id": ")",
                                            std::string(129, 'x'), R"("})");
  EXPECT_FALSE(ParseEventsJson(too_long, kNow, {}).ok());
}

TEST(EventJsonTest, ErrorsNameTheEventAndTheProblem) {
  struct Case {
    const char* body;
    const char* message;
  } cases[] = {
      {"{", "invalid JSON at byte"},
      {"[]", "an event must be a JSON object"},
      {R"({"events": []})", "the batch has no events"},
      {R"({"events": {}})", "\"events\" must be an array"},
      {R"({"events": [], "x": 1})", "no other fields"},
      {R"({"video_id": 1, "type": "click"})", "missing user_id"},
      {R"({"events": [{"user_id": 1, "video_id": 1, "type": "click"}, {"user_id": 1, "video_id": 1, "type": "buy"}]})",
       "events[1]: unknown event type 'buy'"},
      {R"({"user_id": -1, "video_id": 1, "type": "click"})", "user_id must be an integer"},
      {R"({"user_id": 1.5, "video_id": 1, "type": "click"})", "user_id must be an integer"},
      {R"({"user_id": 1, "video_id": 1, "type": "click", "watch_time_ms": 5})", "only allowed on watch events"},
      {R"({"user_id": 1, "video_id": 1, "type": "click", "timestamp_ms": 9999999999999})", "ahead of the server's clock"},
      {R"({"user_id": 1, "video_id": 1, "type": "click", "devise": "tv"})", "unknown field 'devise'"},
      {R"({"user_id": 1, "video_id": 1, "type": "click", "request_id": "xyz"})", "request_id must be"},
  };
  for (const Case& c : cases) {
    auto parsed = ParseEventsJson(c.body, kNow, {});
    ASSERT_FALSE(parsed.ok()) << c.body;
    EXPECT_EQ(parsed.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_NE(parsed.status().message().find(c.message), std::string::npos) << parsed.status();
  }
  std::string many_keys = "{";
  for (int i = 0; i < 1000; ++i) absl::StrAppend(&many_keys, i > 0 ? "," : "", "\"k", i, "\": 1");
  many_keys += "}";
  EXPECT_NE(ParseEventsJson(many_keys, kNow, {}).status().message().find("more than 32 members"), std::string::npos);
  EventJsonOptions small;
  small.max_events = 1;
  auto too_many = ParseEventsJson(R"({"events": [{"user_id": 1, "video_id": 1, "type": "click"},
                                                 {"user_id": 1, "video_id": 1, "type": "click"}]})", kNow, small);
  EXPECT_NE(too_many.status().message().find("at most 1 events"), std::string::npos);
}

}  // namespace
}  // namespace vrec::serving
