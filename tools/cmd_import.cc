// `vrec import`: public datasets and generic CSV logs into a world directory.
#include <cstdio>

#include "absl/strings/str_cat.h"
#include "common/clock.h"
#include "common/status.h"
#include "tools/commands.h"
#include "tools/flags.h"
#include "data/import.h"
#include "common/progress.h"

namespace vrec {

absl::Status RunImport(int argc, char** argv) {
  data::ImportOptions options;
  std::string format, out;
  FlagSet flags("vrec import", "Turns MicroLens, MovieLens or a generic CSV log into a world directory.");
  flags.String("format", &format, "microlens, movielens or csv");
  flags.String("input", &options.input,
               "microlens: pairs .tsv or its folder; movielens: folder with ratings.csv; csv: the file");
  flags.String("out", &out, "world directory to write");
  flags.Bool("skip-bad", &options.skip_bad, "skip and count malformed rows instead of failing");
  flags.String("time-unit", &options.time_unit, "csv: unit of integer timestamps (s or ms)");
  flags.Require("format");
  flags.Require("input");
  flags.Require("out");
  VREC_ASSIGN_OR_RETURN(const bool run, flags.ParseOrPrintHelp(argc, argv));
  if (!run) return absl::OkStatus();
  if (format == "microlens") {
    options.format = data::ImportFormat::kMicroLens;
  } else if (format == "movielens") {
    options.format = data::ImportFormat::kMovieLens;
  } else if (format == "csv") {
    options.format = data::ImportFormat::kCsv;
  } else {
    return absl::InvalidArgumentError(
        absl::StrCat("unknown --format '", format, "' (microlens, movielens or csv)"));
  }
  Progress timer("import", 0, "", false);
  VREC_ASSIGN_OR_RETURN(data::ImportSummary s, data::ImportWorld(options, out));
  for (const std::string& example : s.bad_examples) std::printf("skipped: %s\n", example.c_str());
  std::printf("imported %s into %s: %llu rows, %llu users, %llu videos, %llu events, %llu bad rows skipped%s%s in %.1f s\n",
              options.input.c_str(), out.c_str(), static_cast<unsigned long long>(s.rows),
              static_cast<unsigned long long>(s.manifest.num_users),
              static_cast<unsigned long long>(s.manifest.num_videos),
              static_cast<unsigned long long>(s.manifest.num_events),
              static_cast<unsigned long long>(s.bad_rows),
              s.remapped_users ? "; user ids remapped (user_ids.tsv)" : "",
              s.remapped_videos ? "; video ids remapped (video_ids.tsv)" : "", timer.ElapsedSeconds());
  return absl::OkStatus();
}

}  // namespace vrec
