// The wire format of POST /v1/events: one event object, or {"events": [event, ...]}.
//
//   {"user_id": 7, "video_id": 42, "type": "watch", "watch_time_ms": 31000,
//    "timestamp_ms": 1767225600000, "position": 3, "device": "mobile", "request_id": "00ab12"}
//
// user_id, video_id and type are required; timestamp_ms defaults to the server's clock and
// may not lie more than max_future_ms ahead of it; watch_time_ms (watch events only, at most
// 24 h), position (0-65534), device, request_id (hex string or integer) and event_id (a string
// of 1-128 bytes, unique per event, e.g. a UUID: a retry with the same id is not counted twice)
// are optional.
// Unknown fields are errors, so a typo does not silently drop data.
#ifndef VREC_SERVING_EVENT_JSON_H_
#define VREC_SERVING_EVENT_JSON_H_

#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "common/types.h"

namespace vrec::serving {

struct EventJsonOptions {
  size_t max_events = 1000;              // per request
  TimestampMs max_future_ms = 5 * 60 * 1000;  // tolerated clock skew
};

struct EventBatch {
  std::vector<Event> events;
  std::vector<uint64_t> event_ids;  // EventIdHash per event (0: none); empty when none has one
};

// All-or-nothing: InvalidArgument naming the event ("events[3]: ...") and the problem.
absl::StatusOr<EventBatch> ParseEventsJson(absl::string_view body, TimestampMs now_ms,
                                                   const EventJsonOptions& options);

}  // namespace vrec::serving

#endif  // VREC_SERVING_EVENT_JSON_H_
