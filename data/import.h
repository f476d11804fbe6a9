// `vrec import`: turns public datasets and a generic CSV into a world directory
// (common/world.h), so every offline job runs on real data the same way as on a synthetic
// world.
//
//   microlens  MicroLens-50k_pairs.tsv (user<TAB>items in chronological order, CRLF) and,
//              if present beside it, MicroLens-50k_titles.csv (item,title; hashtags become
//              tags, the first one the category). There are no timestamps: each user's i-th
//              item gets start + i minutes, which keeps every user's order (use the
//              leave-last-out protocol). Each interaction is a click.
//   movielens  ml-latest-small: ratings.csv (userId,movieId,rating,timestamp in s) and
//              movies.csv (genres become category and tags). Each rating is a click; a
//              rating of 4 or more adds a like.
//   csv        user_id,video_id,timestamp[,event,value] with an optional header. Timestamps
//              are integers in --time-unit (s or ms) or RFC 3339 / YYYY-MM-DD; event defaults
//              to click; value is watch_time_ms for watch events. Ids may be any strings.
// Ids that are numeric and reasonably dense are kept; otherwise dense ids are assigned and
// the mapping is written to <world>/user_ids.tsv and <world>/video_ids.tsv (external, id).
// Users and videos without metadata get defaults; a video's upload time and a user's sign-up
// time are their first interaction's time when the source has none.
#ifndef VREC_DATA_IMPORT_H_
#define VREC_DATA_IMPORT_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "common/world.h"

namespace vrec::data {

enum class ImportFormat { kMicroLens, kMovieLens, kCsv };

struct ImportOptions {
  ImportFormat format = ImportFormat::kCsv;
  // microlens: the pairs file or its folder; movielens: the folder; csv: the file.
  std::string input;
  // Count and report malformed rows instead of failing at the first one. Default false.
  bool skip_bad = false;
  // csv: unit of integer timestamps, "s" or "ms". Default "s".
  std::string time_unit = "s";
  // microlens: time of every user's first interaction. Default 2023-01-01T00:00:00Z.
  TimestampMs microlens_start_ms = 1672531200000;
};

struct ImportSummary {
  WorldManifest manifest;
  uint64_t rows = 0;                   // data rows read
  uint64_t bad_rows = 0;               // skipped with skip_bad
  std::vector<std::string> bad_examples;  // the first few skipped rows' errors
  bool remapped_users = false;
  bool remapped_videos = false;
};

// InvalidArgument naming the file and line of the first bad row (unless skip_bad), NotFound
// for missing inputs.
absl::StatusOr<ImportSummary> ImportWorld(const ImportOptions& options, const std::string& out_dir);

}  // namespace vrec::data

#endif  // VREC_DATA_IMPORT_H_
