// Fuzz target: the body of POST /v1/events (serving/event_json.h, RapidJSON underneath).
// Invariants: a parse either fails with InvalidArgument or returns 1..max_events events, with
// one id hash per event or none.
#include <cstdint>

#include "absl/strings/string_view.h"
#include "serving/event_json.h"
#include "tests/fuzz/fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  constexpr vrec::TimestampMs kNow = 1767225600000;
  vrec::serving::EventJsonOptions options;
  options.max_events = 50;
  const absl::string_view body(reinterpret_cast<const char*>(data), size);
  auto parsed = vrec::serving::ParseEventsJson(body, kNow, options);
  if (!parsed.ok()) {
    if (parsed.status().code() != absl::StatusCode::kInvalidArgument) vrec::fuzz::Fail("error is not InvalidArgument");
    return 0;
  }
  if (parsed->events.empty() || parsed->events.size() > options.max_events) vrec::fuzz::Fail("event count out of range");
  if (!parsed->event_ids.empty() && parsed->event_ids.size() != parsed->events.size()) {
    vrec::fuzz::Fail("event ids not one per event");
  }
  for (const vrec::Event& e : parsed->events) {
    if (e.timestamp_ms > kNow + options.max_future_ms) vrec::fuzz::Fail("timestamp beyond the allowed skew");
  }
  return 0;
}
