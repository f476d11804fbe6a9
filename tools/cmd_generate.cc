#include <cstdio>

#include "absl/strings/str_format.h"
#include "common/clock.h"
#include "common/status.h"
#include "tools/commands.h"
#include "tools/flags.h"
#include "data/generate.h"
#include "common/progress.h"

namespace vrec {

absl::Status RunGenerate(int argc, char** argv) {
  data::GenerateOptions options;
  std::string out, start = "2026-01-01";
  FlagSet flags("vrec generate", "Writes a deterministic synthetic world into --out.");
  flags.String("out", &out, "world directory to write");
  flags.Uint64("seed", &options.seed, "random seed; same seed and flags, same world");
  flags.Uint32("users", &options.num_users, "number of users");
  flags.Uint32("videos", &options.num_videos, "number of videos");
  flags.Uint64("events", &options.num_events, "approximate number of events");
  flags.Uint32("days", &options.days, "length of the logged period in days");
  flags.String("start", &start, "first day of the period (YYYY-MM-DD or ms since epoch)");
  flags.Uint32("topics", &options.num_topics, "number of latent topics (2-24)");
  flags.Bool("progress", &options.show_progress, "print progress on stderr");
  flags.Require("out");
  VREC_ASSIGN_OR_RETURN(const bool run, flags.ParseOrPrintHelp(argc, argv));
  if (!run) return absl::OkStatus();
  VREC_ASSIGN_OR_RETURN(options.start_ms, ParseTimestamp(start));
  Progress timer("generate", 0, "", false);
  VREC_ASSIGN_OR_RETURN(WorldManifest m, data::GenerateWorld(out, options));
  std::printf("generated %s: %s users, %s videos, %s events from %s to %s in %.1f s\n",
              out.c_str(), HumanCount(m.num_users).c_str(), HumanCount(m.num_videos).c_str(),
              HumanCount(m.num_events).c_str(), FormatTimestamp(m.start_ms).c_str(),
              FormatTimestamp(m.end_ms).c_str(), timer.ElapsedSeconds());
  return absl::OkStatus();
}

}  // namespace vrec
