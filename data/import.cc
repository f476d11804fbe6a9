#include "data/import.h"

#include <algorithm>
#include <fstream>
#include <limits>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "common/clock.h"
#include "common/event_log.h"
#include "common/status.h"
#include "data/csv_reader.h"

namespace vrec::data {
namespace {

constexpr size_t kMaxBadExamples = 5;

// External id strings to provisional dense indexes; at the end, to final ids.
class IdMap {
 public:
  uint32_t Intern(absl::string_view key) {
    auto [it, inserted] = index_.try_emplace(key, static_cast<uint32_t>(keys_.size()));
    if (inserted) keys_.emplace_back(key);
    return it->second;
  }
  size_t size() const { return keys_.size(); }
  const std::string& key(uint32_t index) const { return keys_[index]; }

  // Keeps numeric ids when all are numeric and no sparser than 16x (plus 1M of slack); otherwise
  // assigns 0..n-1 in order of first appearance. Returns final id per provisional index.
  std::vector<uint32_t> Finalize(bool* remapped) const {
    std::vector<uint32_t> ids(keys_.size());
    uint64_t max_id = 0;
    bool numeric = true;
    for (size_t i = 0; i < keys_.size() && numeric; ++i) {
      uint32_t v;
      numeric = absl::SimpleAtoi(keys_[i], &v) && v != kInvalidId && absl::StrCat(v) == keys_[i];
      ids[i] = v;
      max_id = std::max<uint64_t>(max_id, v);
    }
    *remapped = !numeric || max_id > 16 * keys_.size() + 1000000;
    if (*remapped) {
      for (size_t i = 0; i < ids.size(); ++i) ids[i] = static_cast<uint32_t>(i);
    }
    return ids;
  }

 private:
  absl::flat_hash_map<std::string, uint32_t> index_;
  std::vector<std::string> keys_;
};

struct Metadata {
  std::string category;
  std::vector<std::string> tags;
  std::string title;
};

class WorldBuilder {
 public:
  WorldBuilder(const ImportOptions& options, ImportSummary* summary)
      : options_(options), summary_(summary) {}

  // A malformed row: an error, or (with skip_bad) counted and OK so the caller skips it.
  absl::Status Bad(const std::string& file, int64_t line, absl::string_view message) {
    const std::string text = absl::StrCat(file, ":", line, ": ", message);
    if (!options_.skip_bad) {
      return absl::InvalidArgumentError(absl::StrCat(text, " (use --skip-bad to skip bad rows)"));
    }
    ++summary_->bad_rows;
    if (summary_->bad_examples.size() < kMaxBadExamples) summary_->bad_examples.push_back(text);
    return absl::OkStatus();
  }

  void AddEvent(absl::string_view user, absl::string_view video, TimestampMs time, EventType type,
                uint32_t watch_time_ms = 0) {
    Event e;
    e.user_id = users_.Intern(user);
    e.video_id = videos_.Intern(video);
    e.timestamp_ms = time;
    e.type = type;
    e.watch_time_ms = watch_time_ms;
    e.position = kUnknownPosition;
    events_.push_back(e);
  }

  void AddVideoMetadata(absl::string_view video, Metadata metadata) {
    const uint32_t index = videos_.Intern(video);
    if (index >= metadata_.size()) metadata_.resize(index + 1);
    metadata_[index] = std::move(metadata);
  }

  absl::Status Write(const std::string& kind, const std::string& out_dir) {
    if (events_.empty()) return absl::InvalidArgumentError("no valid interactions in the input");
    const std::vector<uint32_t> user_ids = users_.Finalize(&summary_->remapped_users);
    const std::vector<uint32_t> video_ids = videos_.Finalize(&summary_->remapped_videos);
    std::stable_sort(events_.begin(), events_.end(), [](const Event& a, const Event& b) {
      return a.timestamp_ms < b.timestamp_ms;
    });
    const TimestampMs first = events_.front().timestamp_ms;
    const TimestampMs never = std::numeric_limits<TimestampMs>::max();
    std::vector<TimestampMs> user_first(users_.size(), never), video_first(videos_.size(), never);
    for (Event& e : events_) {
      user_first[e.user_id] = std::min(user_first[e.user_id], e.timestamp_ms);
      video_first[e.video_id] = std::min(video_first[e.video_id], e.timestamp_ms);
      e.user_id = user_ids[e.user_id];
      e.video_id = video_ids[e.video_id];
    }
    std::vector<User> users(users_.size());
    for (uint32_t i = 0; i < users_.size(); ++i) {
      users[i].id = user_ids[i];
      users[i].signup_ms = user_first[i] == never ? first : user_first[i];
    }
    std::vector<Video> videos(videos_.size());
    for (uint32_t i = 0; i < videos_.size(); ++i) {
      Video& v = videos[i];
      v.id = video_ids[i];
      v.upload_ms = video_first[i] == never ? first : video_first[i];
      if (i < metadata_.size()) {
        v.category = std::move(metadata_[i].category);
        v.tags = std::move(metadata_[i].tags);
        v.title = std::move(metadata_[i].title);
      }
    }
    VREC_RETURN_IF_ERROR(MakeDirs(out_dir));
    VREC_RETURN_IF_ERROR(WriteUsers(WorldUsersPath(out_dir), users));
    VREC_RETURN_IF_ERROR(WriteVideos(WorldVideosPath(out_dir), videos));
    VREC_RETURN_IF_ERROR(WriteEventLog(WorldEventsPath(out_dir), events_));
    if (summary_->remapped_users) VREC_RETURN_IF_ERROR(WriteIdMap(out_dir + "/user_ids.tsv", users_, user_ids));
    if (summary_->remapped_videos) VREC_RETURN_IF_ERROR(WriteIdMap(out_dir + "/video_ids.tsv", videos_, video_ids));
    WorldManifest& m = summary_->manifest;
    m.kind = kind;
    m.num_users = users.size();
    m.num_videos = videos.size();
    m.num_events = events_.size();
    m.start_ms = first;
    m.end_ms = events_.back().timestamp_ms;
    m.extra["source"] = options_.input;
    m.extra["bad_rows_skipped"] = absl::StrCat(summary_->bad_rows);
    return WriteWorldManifest(out_dir, m);
  }

 private:
  static absl::Status WriteIdMap(const std::string& path, const IdMap& map,
                                 const std::vector<uint32_t>& ids) {
    std::ofstream out(path);
    out << "external_id\tid\n";
    for (uint32_t i = 0; i < map.size(); ++i) out << map.key(i) << "\t" << ids[i] << "\n";
    if (!out) return absl::InternalError(absl::StrCat("cannot write ", path));
    return absl::OkStatus();
  }

  const ImportOptions& options_;
  ImportSummary* summary_;
  IdMap users_, videos_;
  std::vector<Event> events_;
  std::vector<Metadata> metadata_;  // by provisional video index
};

absl::StatusOr<std::ifstream> OpenInput(const std::string& path) {
  std::ifstream in(path);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot read ", path));
  return in;
}

bool IsDirectory(const std::string& path) { return PathExists(path + "/."); }

// "text # tag one # tag two" -> title text, tags {"tag one", "tag two"}.
Metadata ParseHashtagTitle(const std::string& title) {
  Metadata m;
  m.title = title;
  std::vector<std::string> parts = absl::StrSplit(title, '#');
  for (size_t i = 1; i < parts.size(); ++i) {
    std::string tag = absl::AsciiStrToLower(absl::StripAsciiWhitespace(parts[i]));
    if (!tag.empty() && std::find(m.tags.begin(), m.tags.end(), tag) == m.tags.end()) {
      m.tags.push_back(std::move(tag));
    }
  }
  if (!m.tags.empty()) m.category = m.tags.front();
  return m;
}

absl::Status ImportMicroLens(const ImportOptions& o, WorldBuilder& b, ImportSummary* s) {
  std::string pairs = o.input, titles;
  if (IsDirectory(o.input)) pairs = o.input + "/MicroLens-50k_pairs.tsv";
  titles = pairs.substr(0, pairs.rfind('/') + 1) + "MicroLens-50k_titles.csv";
  VREC_ASSIGN_OR_RETURN(std::ifstream in, OpenInput(pairs));
  std::string line;
  int64_t line_number = 0;
  while (std::getline(in, line)) {
    ++line_number;
    absl::string_view text = absl::StripAsciiWhitespace(line);
    if (text.empty()) continue;
    ++s->rows;
    const size_t tab = text.find('\t');
    if (tab == absl::string_view::npos || tab == 0) {
      VREC_RETURN_IF_ERROR(b.Bad(pairs, line_number, "expected user_id<TAB>item item ..."));
      continue;
    }
    const absl::string_view user = text.substr(0, tab);
    std::vector<absl::string_view> items =
        absl::StrSplit(text.substr(tab + 1), ' ', absl::SkipEmpty());
    if (items.empty()) {
      VREC_RETURN_IF_ERROR(b.Bad(pairs, line_number, "user has no items"));
      continue;
    }
    for (size_t i = 0; i < items.size(); ++i) {
      b.AddEvent(user, items[i], o.microlens_start_ms + static_cast<TimestampMs>(i) * 60000,
                 EventType::kClick);
    }
  }
  if (!PathExists(titles)) return absl::OkStatus();
  VREC_ASSIGN_OR_RETURN(std::ifstream title_in, OpenInput(titles));
  CsvReader csv(&title_in);
  std::vector<std::string> fields;
  while (true) {
    absl::StatusOr<bool> more = csv.Next(&fields);
    if (!more.ok()) return b.Bad(titles, csv.line(), more.status().message());
    if (!*more) break;
    if (csv.line() == 1 && !fields.empty() && fields[0] == "item") continue;
    if (fields.size() != 2 || fields[0].empty()) {
      VREC_RETURN_IF_ERROR(b.Bad(titles, csv.line(), "expected item,title"));
      continue;
    }
    b.AddVideoMetadata(fields[0], ParseHashtagTitle(fields[1]));
  }
  return absl::OkStatus();
}

absl::Status ImportMovieLens(const ImportOptions& o, WorldBuilder& b, ImportSummary* s) {
  const std::string ratings = o.input + "/ratings.csv", movies = o.input + "/movies.csv";
  VREC_ASSIGN_OR_RETURN(std::ifstream in, OpenInput(ratings));
  CsvReader csv(&in);
  std::vector<std::string> f;
  while (true) {
    absl::StatusOr<bool> more = csv.Next(&f);
    if (!more.ok()) return b.Bad(ratings, csv.line(), more.status().message());
    if (!*more) break;
    if (csv.line() == 1 && !f.empty() && f[0] == "userId") continue;
    if (f.size() == 1 && f[0].empty()) continue;
    ++s->rows;
    double rating;
    int64_t seconds;
    if (f.size() != 4 || f[0].empty() || f[1].empty() || !absl::SimpleAtod(f[2], &rating) ||
        !absl::SimpleAtoi(f[3], &seconds)) {
      VREC_RETURN_IF_ERROR(b.Bad(ratings, csv.line(), "expected userId,movieId,rating,timestamp"));
      continue;
    }
    b.AddEvent(f[0], f[1], seconds * 1000, EventType::kClick);
    if (rating >= 4.0) b.AddEvent(f[0], f[1], seconds * 1000, EventType::kLike);
  }
  if (!PathExists(movies)) return absl::OkStatus();
  VREC_ASSIGN_OR_RETURN(std::ifstream movie_in, OpenInput(movies));
  CsvReader movie_csv(&movie_in);
  while (true) {
    absl::StatusOr<bool> more = movie_csv.Next(&f);
    if (!more.ok()) return b.Bad(movies, movie_csv.line(), more.status().message());
    if (!*more) break;
    if (movie_csv.line() == 1 && !f.empty() && f[0] == "movieId") continue;
    if (f.size() != 3 || f[0].empty()) {
      VREC_RETURN_IF_ERROR(b.Bad(movies, movie_csv.line(), "expected movieId,title,genres"));
      continue;
    }
    Metadata m;
    m.title = f[1];
    if (f[2] != "(no genres listed)") m.tags = absl::StrSplit(f[2], '|', absl::SkipEmpty());
    if (!m.tags.empty()) m.category = m.tags.front();
    b.AddVideoMetadata(f[0], std::move(m));
  }
  return absl::OkStatus();
}

absl::Status ImportCsv(const ImportOptions& o, WorldBuilder& b, ImportSummary* s) {
  if (o.time_unit != "s" && o.time_unit != "ms") {
    return absl::InvalidArgumentError("--time-unit must be s or ms");
  }
  const int64_t scale = o.time_unit == "s" ? 1000 : 1;
  VREC_ASSIGN_OR_RETURN(std::ifstream in, OpenInput(o.input));
  CsvReader csv(&in);
  std::vector<std::string> f;
  while (true) {
    absl::StatusOr<bool> more = csv.Next(&f);
    if (!more.ok()) {
      VREC_RETURN_IF_ERROR(b.Bad(o.input, csv.line(), more.status().message()));
      continue;
    }
    if (!*more) break;
    if (f.size() == 1 && f[0].empty()) continue;
    if (csv.line() == 1 && f.size() >= 3 && f[0] == "user_id") continue;  // header
    ++s->rows;
    if (f.size() < 3 || f.size() > 5 || f[0].empty() || f[1].empty()) {
      VREC_RETURN_IF_ERROR(b.Bad(o.input, csv.line(),
                                 absl::StrCat("expected user_id,video_id,timestamp[,event,value], got ",
                                              f.size(), " fields")));
      continue;
    }
    TimestampMs time;
    int64_t raw;
    // Times from 1970 to the end of year 9999, in ms (larger integers would overflow).
    constexpr TimestampMs kLatestMs = 253402300799999;
    if (absl::SimpleAtoi(f[2], &raw)) {
      if (raw < 0 || raw > kLatestMs / scale) {
        VREC_RETURN_IF_ERROR(b.Bad(o.input, csv.line(),
                                   absl::StrCat("timestamp ", f[2], " (", o.time_unit, ") is outside 1970 to 9999")));
        continue;
      }
      time = raw * scale;
    } else if (absl::StatusOr<TimestampMs> parsed = ParseTimestamp(f[2]); parsed.ok()) {
      time = *parsed;
    } else {
      VREC_RETURN_IF_ERROR(b.Bad(o.input, csv.line(), absl::StrCat("bad timestamp '", f[2], "'")));
      continue;
    }
    EventType type = EventType::kClick;
    if (f.size() >= 4 && !f[3].empty()) {
      absl::StatusOr<EventType> parsed = ParseEventType(f[3]);
      if (!parsed.ok()) {
        VREC_RETURN_IF_ERROR(b.Bad(o.input, csv.line(), parsed.status().message()));
        continue;
      }
      type = *parsed;
    }
    uint32_t value = 0;
    if (f.size() == 5 && !f[4].empty() && !absl::SimpleAtoi(f[4], &value)) {
      VREC_RETURN_IF_ERROR(b.Bad(o.input, csv.line(), absl::StrCat("bad value '", f[4], "' (a whole number of ms)")));
      continue;
    }
    b.AddEvent(f[0], f[1], time, type, type == EventType::kWatch ? value : 0);
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<ImportSummary> ImportWorld(const ImportOptions& options, const std::string& out_dir) {
  if (options.input.empty()) return absl::InvalidArgumentError("--input is required");
  if (!PathExists(options.input)) {
    return absl::NotFoundError(absl::StrCat("input ", options.input, " does not exist"));
  }
  ImportSummary summary;
  WorldBuilder builder(options, &summary);
  std::string kind;
  switch (options.format) {
    case ImportFormat::kMicroLens:
      kind = "microlens";
      VREC_RETURN_IF_ERROR(ImportMicroLens(options, builder, &summary));
      break;
    case ImportFormat::kMovieLens:
      kind = "movielens";
      if (!IsDirectory(options.input)) {
        return absl::InvalidArgumentError("--input for movielens is the folder holding ratings.csv");
      }
      VREC_RETURN_IF_ERROR(ImportMovieLens(options, builder, &summary));
      break;
    case ImportFormat::kCsv:
      kind = "csv";
      VREC_RETURN_IF_ERROR(ImportCsv(options, builder, &summary));
      break;
  }
  VREC_RETURN_IF_ERROR(builder.Write(kind, out_dir));
  return summary;
}

}  // namespace vrec::data
