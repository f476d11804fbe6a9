#include "serving/event_json.h"

#include "common/event_log.h"

#include <limits>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "common/json_reader.h"

namespace vrec::serving {
namespace {

// An integer field within [min, max].
absl::Status IntegerField(const JsonValue& v, absl::string_view name, int64_t min, int64_t max, int64_t* out) {
  if (!v.is_number() || !v.is_integer() || v.integer() < min || v.integer() > max) {
    return absl::InvalidArgumentError(
        absl::StrCat(name, " must be an integer in [", min, ", ", max, "]"));
  }
  *out = v.integer();
  return absl::OkStatus();
}

absl::Status ParseEvent(const JsonValue& v, TimestampMs now_ms, const EventJsonOptions& options, Event* e,
                        uint64_t* event_id) {
  if (!v.is_object()) return absl::InvalidArgumentError("an event must be a JSON object");
  e->timestamp_ms = now_ms;
  e->position = kUnknownPosition;
  bool has_user = false, has_video = false, has_type = false, has_watch_time = false;
  for (const auto& [name, value] : v.members()) {
    int64_t n = 0;
    if (name == "user_id") {
      if (absl::Status s = IntegerField(value, name, 0, kInvalidId - 1, &n); !s.ok()) return s;
      e->user_id = static_cast<UserId>(n);
      has_user = true;
    } else if (name == "video_id") {
      if (absl::Status s = IntegerField(value, name, 0, kInvalidId - 1, &n); !s.ok()) return s;
      e->video_id = static_cast<VideoId>(n);
      has_video = true;
    } else if (name == "type") {
      if (!value.is_string()) return absl::InvalidArgumentError("type must be a string");
      absl::StatusOr<EventType> type = ParseEventType(value.string());
      if (!type.ok()) return type.status();
      e->type = *type;
      has_type = true;
    } else if (name == "timestamp_ms") {
      if (absl::Status s = IntegerField(value, name, 0, now_ms + options.max_future_ms, &n); !s.ok()) {
        return absl::InvalidArgumentError(absl::StrCat(s.message(), " (no more than ", options.max_future_ms / 1000,
                                                       " s ahead of the server's clock)"));
      }
      e->timestamp_ms = n;
    } else if (name == "watch_time_ms") {
      if (absl::Status s = IntegerField(value, name, 0, kMsPerDay, &n); !s.ok()) return s;
      e->watch_time_ms = static_cast<uint32_t>(n);
      has_watch_time = true;
    } else if (name == "position") {
      if (absl::Status s = IntegerField(value, name, 0, kUnknownPosition - 1, &n); !s.ok()) return s;
      e->position = static_cast<uint16_t>(n);
    } else if (name == "device") {
      if (!value.is_string()) return absl::InvalidArgumentError("device must be a string");
      absl::StatusOr<Device> device = ParseDevice(value.string());
      if (!device.ok()) return device.status();
      e->device = *device;
    } else if (name == "request_id") {
      uint64_t id = 0;
      if (value.is_string() && !value.string().empty() && value.string().size() <= 16 &&
          absl::SimpleHexAtoi(value.string(), &id)) {
        e->request_id = id;
      } else if (value.is_number() && value.is_integer() && value.integer() >= 0) {
        e->request_id = static_cast<uint64_t>(value.integer());
      } else {
        return absl::InvalidArgumentError("request_id must be a hex string of up to 16 digits or an integer");
      }
    } else if (name == "event_id") {
      if (!value.is_string() || value.string().empty() || value.string().size() > 128) {
        return absl::InvalidArgumentError("event_id must be a string of 1 to 128 bytes");
      }
      *event_id = EventIdHash(value.string());
    } else {
      return absl::InvalidArgumentError(absl::StrCat(
          "unknown field '", name,
          "' (allowed: user_id, video_id, type, timestamp_ms, watch_time_ms, position, device, request_id, "
          "event_id)"));
    }
  }
  if (!has_user) return absl::InvalidArgumentError("missing user_id");
  if (!has_video) return absl::InvalidArgumentError("missing video_id");
  if (!has_type) return absl::InvalidArgumentError("missing type");
  if (has_watch_time && e->type != EventType::kWatch) {
    return absl::InvalidArgumentError("watch_time_ms is only allowed on watch events");
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<EventBatch> ParseEventsJson(absl::string_view body, TimestampMs now_ms,
                                                   const EventJsonOptions& options) {
  // An event has at most 9 fields and a batch one; the bounds stop a hostile body (say 80,000
  // keys, or 80,000 tiny events) early instead of building all of it first.
  JsonLimits limits;
  limits.max_members = 32;
  limits.max_elements = options.max_events * 32 + 8;
  absl::StatusOr<JsonValue> doc = ParseJson(body, limits);
  if (!doc.ok()) return doc.status();
  std::vector<const JsonValue*> items;
  bool batch = false;
  if (doc->is_object() && doc->Find("events") != nullptr) {
    if (doc->members().size() != 1) {
      return absl::InvalidArgumentError("a batch is {\"events\": [...]} with no other fields");
    }
    const JsonValue& events = *doc->Find("events");
    if (!events.is_array()) return absl::InvalidArgumentError("\"events\" must be an array");
    for (const JsonValue& e : events.array()) items.push_back(&e);
    batch = true;
  } else {
    items.push_back(&*doc);
  }
  if (items.empty()) return absl::InvalidArgumentError("the batch has no events");
  if (items.size() > options.max_events) {
    return absl::InvalidArgumentError(
        absl::StrCat("a batch holds at most ", options.max_events, " events, got ", items.size()));
  }
  EventBatch out;
  out.events.resize(items.size());
  out.event_ids.assign(items.size(), 0);
  bool any_id = false;
  for (size_t i = 0; i < items.size(); ++i) {
    absl::Status s = ParseEvent(*items[i], now_ms, options, &out.events[i], &out.event_ids[i]);
    if (!s.ok()) {
      return absl::InvalidArgumentError(
          batch ? absl::StrCat("events[", i, "]: ", s.message()) : std::string(s.message()));
    }
    any_id |= out.event_ids[i] != 0;
  }
  if (!any_id) out.event_ids.clear();
  return out;
}

}  // namespace vrec::serving
