#include "common/types.h"

#include "absl/strings/str_cat.h"

namespace vrec {
namespace {

constexpr absl::string_view kEventTypeNames[kNumEventTypes] = {
    "impression", "click", "watch", "like", "share", "skip", "not_interested"};
constexpr absl::string_view kDeviceNames[kNumDevices] = {"unknown", "mobile", "web", "tv",
                                                         "tablet"};

}  // namespace

absl::string_view EventTypeName(EventType type) {
  const int index = static_cast<int>(type);
  return index < kNumEventTypes ? kEventTypeNames[index] : "invalid";
}

absl::StatusOr<EventType> ParseEventType(absl::string_view name) {
  for (int i = 0; i < kNumEventTypes; ++i) {
    if (name == kEventTypeNames[i]) return static_cast<EventType>(i);
  }
  return absl::InvalidArgumentError(absl::StrCat(
      "unknown event type '", name,
      "' (expected impression, click, watch, like, share, skip or not_interested)"));
}

absl::string_view DeviceName(Device device) {
  const int index = static_cast<int>(device);
  return index < kNumDevices ? kDeviceNames[index] : "invalid";
}

absl::StatusOr<Device> ParseDevice(absl::string_view name) {
  for (int i = 0; i < kNumDevices; ++i) {
    if (name == kDeviceNames[i]) return static_cast<Device>(i);
  }
  return absl::InvalidArgumentError(
      absl::StrCat("unknown device '", name, "' (expected mobile, web, tv, tablet or unknown)"));
}

bool IsEngagement(EventType type) {
  return type == EventType::kClick || type == EventType::kWatch || type == EventType::kLike ||
         type == EventType::kShare;
}

int RelevanceGrade(EventType type, uint32_t watch_time_ms, uint32_t duration_ms) {
  switch (type) {
    case EventType::kLike:
    case EventType::kShare:
      return 3;
    case EventType::kWatch: {
      const bool long_watch = duration_ms > 0 ? 2ull * watch_time_ms >= duration_ms
                                              : watch_time_ms >= 30 * kMsPerSecond;
      return long_watch ? 2 : 1;
    }
    case EventType::kClick:
      return 1;
    default:
      return 0;
  }
}

}  // namespace vrec
