// Core types of the data model: users, videos and interaction events. Every package speaks in
// these; they carry no behaviour beyond naming and parsing their enums.
#ifndef VREC_COMMON_TYPES_H_
#define VREC_COMMON_TYPES_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace vrec {

// Ids are dense-ish unsigned 32-bit numbers. 0 is a valid id; kInvalidId marks "none".
using UserId = uint32_t;
using VideoId = uint32_t;
using CreatorId = uint32_t;
using RequestId = uint64_t;
inline constexpr uint32_t kInvalidId = 0xFFFFFFFFu;

// Milliseconds since the Unix epoch, UTC.
using TimestampMs = int64_t;
inline constexpr TimestampMs kMsPerSecond = 1000;
inline constexpr TimestampMs kMsPerHour = 3600 * kMsPerSecond;
inline constexpr TimestampMs kMsPerDay = 24 * kMsPerHour;

// What happened. Values are stored in event logs: append only, never renumber.
enum class EventType : uint8_t {
  kImpression = 0,     // the video was shown in a feed slot
  kClick = 1,          // the user opened it
  kWatch = 2,          // the user watched it; Event::watch_time_ms says how long
  kLike = 3,
  kShare = 4,
  kSkip = 5,           // opened and abandoned within seconds, or swiped past
  kNotInterested = 6,  // explicit negative feedback
};
inline constexpr int kNumEventTypes = 7;

// Where it happened. Stored in event logs: append only.
enum class Device : uint8_t {
  kUnknown = 0,
  kMobile = 1,
  kWeb = 2,
  kTv = 3,
  kTablet = 4,
};
inline constexpr int kNumDevices = 5;

absl::string_view EventTypeName(EventType type);
absl::StatusOr<EventType> ParseEventType(absl::string_view name);
absl::string_view DeviceName(Device device);
absl::StatusOr<Device> ParseDevice(absl::string_view name);

// True for events that show interest: click, watch, like, share. Impressions, skips and
// not-interested are not engagement.
bool IsEngagement(EventType type);

// Graded relevance of one event for offline evaluation: 0 none, 1 click or short watch,
// 2 long watch (at least half the video, or 30 s when the duration is unknown), 3 like or share.
int RelevanceGrade(EventType type, uint32_t watch_time_ms, uint32_t duration_ms);

// One interaction. The in-memory layout is the on-disk record of the event log
// (common/event_log.h): 32 bytes, little-endian, no padding. Unknown fields are 0
// (request_id, position) or Device::kUnknown.
struct Event {
  TimestampMs timestamp_ms = 0;
  RequestId request_id = 0;   // the feed request that showed the video, 0 if unknown
  UserId user_id = 0;
  VideoId video_id = 0;
  uint32_t watch_time_ms = 0;  // kWatch only
  uint16_t position = 0;       // slot in the feed, 0-based; 0xFFFF if unknown
  EventType type = EventType::kImpression;
  Device device = Device::kUnknown;
};
static_assert(sizeof(Event) == 32, "Event is the 32-byte event-log record");
inline constexpr uint16_t kUnknownPosition = 0xFFFF;

struct User {
  UserId id = 0;
  std::string country;      // ISO 3166 alpha-2 where known, "" if unknown
  std::string language;     // ISO 639-1 where known, "" if unknown
  uint8_t age_bucket = 0;   // 0 unknown, 1: <18, 2: 18-24, 3: 25-34, 4: 35-44, 5: 45-54, 6: 55+
  TimestampMs signup_ms = 0;
};

struct Video {
  VideoId id = 0;
  std::string category;           // one coarse category, "" if unknown
  std::vector<std::string> tags;  // finer labels (hashtags, genres); may be empty
  CreatorId creator_id = kInvalidId;
  uint32_t duration_ms = 0;       // 0 if unknown
  std::string language;           // "" if unknown
  TimestampMs upload_ms = 0;
  std::string title;              // "" if unknown
};

}  // namespace vrec

#endif  // VREC_COMMON_TYPES_H_
