#include "data/impression_log.h"

#include <algorithm>
#include <fstream>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/json_reader.h"
#include "common/json_writer.h"

namespace vrec::data {

std::string FormatServedFeed(const ServedFeed& feed) {
  JsonWriter w;
  w.BeginObject();
  w.Key("request_id").String(absl::StrFormat("%016x", feed.request_id));
  w.Key("time_ms").Int(feed.time_ms);
  w.Key("user_id").Uint(feed.user_id);
  w.Key("model_version").String(feed.model_version);
  w.Key("items").BeginArray();
  for (const ServedItem& item : feed.items) {
    w.BeginObject();
    w.Key("video_id").Uint(item.video_id);
    w.Key("position").Uint(item.position);
    w.Key("score").Double(item.score);
    w.Key("propensity").Double(item.propensity);
    w.EndObject();
  }
  w.EndArray();
  w.EndObject();
  return w.Release();
}

absl::StatusOr<std::vector<ServedFeed>> ReadImpressionLog(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot read the impression log ", path));
  const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::vector<ServedFeed> feeds;
  size_t start = 0, line_number = 0;
  while (start < text.size()) {
    const size_t end = text.find('\n', start);
    if (end == std::string::npos) break;  // a torn last line
    ++line_number;
    const absl::string_view line(text.data() + start, end - start);
    start = end + 1;
    auto bad = [&](absl::string_view why) {
      return absl::InvalidArgumentError(absl::StrCat(path, ":", line_number, ": ", why));
    };
    absl::StatusOr<JsonValue> json = ParseJson(line);
    if (!json.ok()) return bad(json.status().message());
    ServedFeed feed;
    const JsonValue* request = json->Find("request_id");
    const JsonValue* time = json->Find("time_ms");
    const JsonValue* user = json->Find("user_id");
    const JsonValue* version = json->Find("model_version");
    const JsonValue* items = json->Find("items");
    if (request == nullptr || !request->is_string() || !absl::SimpleHexAtoi(request->string(), &feed.request_id) ||
        time == nullptr || !time->is_integer() || user == nullptr || !user->is_integer() || version == nullptr ||
        !version->is_string() || items == nullptr || !items->is_array()) {
      return bad("expected request_id (hex), time_ms, user_id, model_version and items");
    }
    feed.time_ms = time->integer();
    feed.user_id = static_cast<UserId>(user->integer());
    feed.model_version = version->string();
    for (const JsonValue& item : items->array()) {
      const JsonValue* video = item.Find("video_id");
      const JsonValue* position = item.Find("position");
      const JsonValue* score = item.Find("score");
      const JsonValue* propensity = item.Find("propensity");
      if (video == nullptr || !video->is_integer() || position == nullptr || !position->is_integer() ||
          score == nullptr || !score->is_number() || propensity == nullptr || !propensity->is_number()) {
        return bad("each item needs video_id, position, score and propensity");
      }
      feed.items.push_back({static_cast<VideoId>(video->integer()), static_cast<uint16_t>(position->integer()),
                            static_cast<float>(score->number()), static_cast<float>(propensity->number())});
    }
    feeds.push_back(std::move(feed));
  }
  return feeds;
}

std::vector<Event> ServedImpressionEvents(const std::vector<ServedFeed>& feeds) {
  std::vector<Event> events;
  for (const ServedFeed& feed : feeds) {
    for (const ServedItem& item : feed.items) {
      Event e;
      e.type = EventType::kImpression;
      e.timestamp_ms = feed.time_ms;
      e.user_id = feed.user_id;
      e.video_id = item.video_id;
      e.request_id = feed.request_id;
      e.position = item.position;
      events.push_back(e);
    }
  }
  std::stable_sort(events.begin(), events.end(),
                   [](const Event& a, const Event& b) { return a.timestamp_ms < b.timestamp_ms; });
  return events;
}

}  // namespace vrec::data
