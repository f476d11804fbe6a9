// Time: parsing and printing timestamps for humans, and an injectable clock so that tests and
// replays control "now".
#ifndef VREC_COMMON_CLOCK_H_
#define VREC_COMMON_CLOCK_H_

#include <atomic>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "common/types.h"

namespace vrec {

// Accepts ms since the epoch ("1767225600000"), a date ("2026-01-01", midnight UTC) or an
// RFC 3339 time ("2026-01-01T12:00:00Z"). InvalidArgument otherwise.
absl::StatusOr<TimestampMs> ParseTimestamp(absl::string_view text);

// "2026-01-01T12:00:00.000Z".
std::string FormatTimestamp(TimestampMs ms);

// Source of the current time. Thread-safe.
class Clock {
 public:
  virtual ~Clock() = default;
  virtual TimestampMs NowMs() const = 0;
};

// The system's real-time clock.
class SystemClock : public Clock {
 public:
  TimestampMs NowMs() const override;
  // A process-wide instance.
  static const SystemClock* Get();
};

// Real time shifted by a fixed offset: serves a recorded world as if it were live (its last
// event is "now" at start-up, and time then moves at the real rate).
class OffsetClock : public Clock {
 public:
  explicit OffsetClock(TimestampMs offset_ms) : offset_ms_(offset_ms) {}
  TimestampMs NowMs() const override { return SystemClock::Get()->NowMs() + offset_ms_; }

 private:
  TimestampMs offset_ms_;
};

// A clock that only moves when told to, for tests and replays.
class ManualClock : public Clock {
 public:
  explicit ManualClock(TimestampMs now_ms) : now_ms_(now_ms) {}
  TimestampMs NowMs() const override { return now_ms_.load(); }
  void Set(TimestampMs now_ms) { now_ms_.store(now_ms); }
  void Advance(TimestampMs delta_ms) { now_ms_.fetch_add(delta_ms); }

 private:
  std::atomic<TimestampMs> now_ms_;
};

}  // namespace vrec

#endif  // VREC_COMMON_CLOCK_H_
