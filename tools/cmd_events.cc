// `vrec events`: counts, a filtered dump and a human summary of a world's event log.
#include <algorithm>
#include <cstdio>
#include <limits>
#include <vector>

#include "absl/strings/str_format.h"
#include "common/clock.h"
#include "common/event_log.h"
#include "common/status.h"
#include "common/world.h"
#include "tools/commands.h"
#include "tools/flags.h"
#include "common/progress.h"

namespace vrec {
namespace {

void MarkSeen(std::vector<bool>& seen, uint32_t id, uint64_t* distinct) {
  if (id >= seen.size()) seen.resize(std::max<size_t>(size_t{id} + 1, seen.size() * 2), false);
  if (!seen[id]) {
    seen[id] = true;
    ++*distinct;
  }
}

}  // namespace

absl::Status RunEvents(int argc, char** argv) {
  std::string world, from = "", to = "", type_name = "";
  int64_t user = -1, video = -1;
  uint64_t limit = 20;
  bool dump = false, show_progress = true;
  FlagSet flags("vrec events",
                "Summarises a world's event log; with --dump prints the matching events as TSV.");
  flags.String("world", &world, "world directory");
  flags.String("from", &from, "only events at or after this time (YYYY-MM-DD, RFC 3339 or ms)");
  flags.String("to", &to, "only events before this time");
  flags.Int("user", &user, "only this user (-1: all)");
  flags.Int("video", &video, "only this video (-1: all)");
  flags.String("type", &type_name, "only this event type (impression, click, watch, ...)");
  flags.Bool("dump", &dump, "print matching events, one per line");
  flags.Uint64("limit", &limit, "with --dump, print at most this many (0: all)");
  flags.Bool("progress", &show_progress, "print progress on stderr");
  flags.Require("world");
  VREC_ASSIGN_OR_RETURN(const bool run, flags.ParseOrPrintHelp(argc, argv));
  if (!run) return absl::OkStatus();
  TimestampMs from_ms = std::numeric_limits<TimestampMs>::min();
  TimestampMs to_ms = std::numeric_limits<TimestampMs>::max();
  if (!from.empty()) {
    VREC_ASSIGN_OR_RETURN(from_ms, ParseTimestamp(from));
  }
  if (!to.empty()) {
    VREC_ASSIGN_OR_RETURN(to_ms, ParseTimestamp(to));
  }
  int type_filter = -1;
  if (!type_name.empty()) {
    VREC_ASSIGN_OR_RETURN(EventType type, ParseEventType(type_name));
    type_filter = static_cast<int>(type);
  }
  VREC_ASSIGN_OR_RETURN(WorldManifest manifest, ReadWorldManifest(world));
  VREC_ASSIGN_OR_RETURN(std::unique_ptr<EventLogReader> reader,
                        EventLogReader::Open(WorldEventsPath(world)));

  uint64_t total = 0, matched = 0, printed = 0, distinct_users = 0, distinct_videos = 0;
  uint64_t by_type[kNumEventTypes] = {};
  uint64_t watch_ms = 0;
  TimestampMs first = std::numeric_limits<TimestampMs>::max();
  TimestampMs last = std::numeric_limits<TimestampMs>::min();
  std::vector<bool> seen_users, seen_videos;
  bool out_of_order = false;
  TimestampMs previous = std::numeric_limits<TimestampMs>::min();
  if (dump) std::printf("timestamp\tuser_id\tvideo_id\tevent\twatch_time_ms\tposition\tdevice\trequest_id\n");
  Progress progress("events", reader->file_bytes() / sizeof(Event), "events", show_progress && !dump);
  while (true) {
    VREC_ASSIGN_OR_RETURN(absl::Span<const Event> block, reader->NextBlock());
    if (block.empty()) break;
    for (const Event& e : block) {
      out_of_order |= e.timestamp_ms < previous;
      previous = e.timestamp_ms;
      if (e.timestamp_ms < from_ms || e.timestamp_ms >= to_ms) continue;
      if (user >= 0 && e.user_id != static_cast<uint64_t>(user)) continue;
      if (video >= 0 && e.video_id != static_cast<uint64_t>(video)) continue;
      if (type_filter >= 0 && static_cast<int>(e.type) != type_filter) continue;
      ++matched;
      ++by_type[static_cast<int>(e.type) % kNumEventTypes];
      watch_ms += e.watch_time_ms;
      first = std::min(first, e.timestamp_ms);
      last = std::max(last, e.timestamp_ms);
      MarkSeen(seen_users, e.user_id, &distinct_users);
      MarkSeen(seen_videos, e.video_id, &distinct_videos);
      if (dump && (limit == 0 || printed < limit)) {
        ++printed;
        std::printf("%s\t%u\t%u\t%s\t%u\t%s\t%s\t%llu\n", FormatTimestamp(e.timestamp_ms).c_str(),
                    e.user_id, e.video_id, std::string(EventTypeName(e.type)).c_str(),
                    e.watch_time_ms,
                    e.position == kUnknownPosition ? "" : std::to_string(e.position).c_str(),
                    std::string(DeviceName(e.device)).c_str(),
                    static_cast<unsigned long long>(e.request_id));
      }
    }
    total += block.size();
    progress.Update(total);
  }
  const double seconds = progress.ElapsedSeconds();
  if (dump) return absl::OkStatus();

  std::printf("world %s (%s): %llu events read in %.2f s (%.1fM events/s)\n", world.c_str(),
              manifest.kind.c_str(), static_cast<unsigned long long>(total), seconds,
              seconds > 0 ? total / seconds / 1e6 : 0.0);
  if (reader->torn_tail_bytes() > 0) {
    std::printf("warning: %llu bytes of an incomplete final block were ignored\n",
                static_cast<unsigned long long>(reader->torn_tail_bytes()));
  }
  if (out_of_order) std::printf("note: events are not in time order\n");
  std::printf("matching: %llu events, %llu users, %llu videos", static_cast<unsigned long long>(matched),
              static_cast<unsigned long long>(distinct_users),
              static_cast<unsigned long long>(distinct_videos));
  if (matched > 0) {
    std::printf(", from %s to %s (%.1f days)\n", FormatTimestamp(first).c_str(),
                FormatTimestamp(last).c_str(), (last - first) / double(kMsPerDay));
  } else {
    std::printf("\n");
  }
  for (int t = 0; t < kNumEventTypes; ++t) {
    std::printf("  %-15s %12llu  %5.1f%%\n", std::string(EventTypeName(static_cast<EventType>(t))).c_str(),
                static_cast<unsigned long long>(by_type[t]), matched ? 100.0 * by_type[t] / matched : 0.0);
  }
  const uint64_t impressions = by_type[static_cast<int>(EventType::kImpression)];
  const uint64_t clicks = by_type[static_cast<int>(EventType::kClick)];
  const uint64_t watches = by_type[static_cast<int>(EventType::kWatch)];
  if (impressions > 0) std::printf("click-through rate: %.2f%%\n", 100.0 * clicks / impressions);
  if (watches > 0) std::printf("mean watch time: %.1f s\n", watch_ms / 1000.0 / watches);
  if (distinct_users > 0) std::printf("events per active user: %.1f\n", double(matched) / distinct_users);
  return absl::OkStatus();
}

}  // namespace vrec
