#include "common/clock.h"

#include <chrono>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"

namespace vrec {

absl::StatusOr<TimestampMs> ParseTimestamp(absl::string_view text) {
  int64_t ms;
  if (absl::SimpleAtoi(text, &ms)) return ms;
  absl::Time t;
  std::string error;
  if (absl::ParseTime(absl::RFC3339_full, std::string(text), &t, &error) ||
      absl::ParseTime("%Y-%m-%d", std::string(text), &t, &error)) {
    return absl::ToUnixMillis(t);
  }
  return absl::InvalidArgumentError(absl::StrCat(
      "cannot parse time '", text,
      "': expected ms since epoch, YYYY-MM-DD or YYYY-MM-DDTHH:MM:SSZ"));
}

std::string FormatTimestamp(TimestampMs ms) {
  return absl::FormatTime("%Y-%m-%dT%H:%M:%E3SZ", absl::FromUnixMillis(ms), absl::UTCTimeZone());
}

TimestampMs SystemClock::NowMs() const {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

const SystemClock* SystemClock::Get() {
  static const SystemClock* clock = new SystemClock();
  return clock;
}

}  // namespace vrec
