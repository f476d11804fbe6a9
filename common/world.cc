#include "common/world.h"

#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "common/status.h"

namespace vrec {
namespace {

constexpr char kUsersHeader[] = "user_id\tcountry\tlanguage\tage_bucket\tsignup_ms";
constexpr char kVideosHeader[] =
    "video_id\tcategory\ttags\tcreator_id\tduration_ms\tlanguage\tupload_ms\ttitle";

// TSV fields cannot hold tabs or line breaks; tags cannot hold the '|' separator.
std::string Clean(absl::string_view text, bool is_tag = false) {
  std::string out(text);
  for (char& c : out) {
    if (c == '\t' || c == '\n' || c == '\r' || (is_tag && c == '|')) c = ' ';
  }
  return out;
}

absl::Status LineError(const std::string& path, int64_t line, absl::string_view message) {
  return absl::InvalidArgumentError(absl::StrCat(path, ":", line, ": ", message));
}

template <typename T>
bool ParseNumber(absl::string_view text, T* out) {
  if constexpr (sizeof(T) <= 4 && std::is_unsigned_v<T>) {
    uint32_t v;
    if (!absl::SimpleAtoi(text, &v) || v > std::numeric_limits<T>::max()) return false;
    *out = static_cast<T>(v);
    return true;
  } else {
    return absl::SimpleAtoi(text, out);
  }
}

absl::Status WriteAtomically(const std::string& path, const std::string& content) {
  const std::string tmp = path + ".tmp";
  std::FILE* f = std::fopen(tmp.c_str(), "wb");
  if (f == nullptr) {
    return absl::InternalError(absl::StrCat("cannot write ", tmp, ": ", std::strerror(errno)));
  }
  const bool ok = std::fwrite(content.data(), 1, content.size(), f) == content.size();
  if (std::fclose(f) != 0 || !ok) return absl::InternalError(absl::StrCat("cannot write ", tmp));
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    return absl::InternalError(absl::StrCat("cannot rename ", tmp, " to ", path));
  }
  return absl::OkStatus();
}

// Calls fn(line_number, fields) for each data line after checking the header.
template <typename Fn>
absl::Status ForEachTsvRow(const std::string& path, absl::string_view header, size_t fields,
                           Fn fn) {
  std::ifstream in(path);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot read ", path));
  std::string line;
  int64_t line_number = 0;
  while (std::getline(in, line)) {
    ++line_number;
    absl::string_view text = absl::StripSuffix(line, "\r");
    if (line_number == 1) {
      if (text != header) {
        return LineError(path, 1, absl::StrCat("expected header '", header, "'"));
      }
      continue;
    }
    if (text.empty()) continue;
    std::vector<absl::string_view> parts = absl::StrSplit(text, '\t');
    if (parts.size() != fields) {
      return LineError(path, line_number,
                       absl::StrCat("expected ", fields, " tab-separated fields, got ",
                                    parts.size()));
    }
    VREC_RETURN_IF_ERROR(fn(line_number, parts));
  }
  if (line_number == 0) return LineError(path, 1, "empty file (missing header)");
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::string> KeyValueFile::Get(const std::string& key) const {
  auto it = entries_.find(key);
  if (it == entries_.end()) {
    return absl::NotFoundError(absl::StrCat("missing key '", key, "' in ", path_));
  }
  return it->second;
}

absl::StatusOr<int64_t> KeyValueFile::GetInt(const std::string& key) const {
  VREC_ASSIGN_OR_RETURN(std::string value, Get(key));
  int64_t out;
  if (!absl::SimpleAtoi(value, &out)) {
    return absl::InvalidArgumentError(
        absl::StrCat("key '", key, "' in ", path_, " is not an integer: '", value, "'"));
  }
  return out;
}

std::string KeyValueFile::GetOr(const std::string& key, const std::string& fallback) const {
  auto it = entries_.find(key);
  return it == entries_.end() ? fallback : it->second;
}

absl::StatusOr<KeyValueFile> KeyValueFile::Read(const std::string& path) {
  std::ifstream in(path);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot read ", path));
  KeyValueFile file;
  file.path_ = path;
  std::string line;
  int64_t line_number = 0;
  while (std::getline(in, line)) {
    ++line_number;
    absl::string_view text = absl::StripSuffix(line, "\r");
    if (text.empty() || text[0] == '#') continue;
    // Write() could not reproduce a control character (found by tests/fuzz/bundle_fuzzer).
    if (std::any_of(text.begin(), text.end(), [](char c) { return (c >= 0 && c < 0x20) || c == 0x7F; })) {
      return LineError(path, line_number, "control character");
    }
    const size_t eq = text.find('=');
    if (eq == absl::string_view::npos || eq == 0) {
      return LineError(path, line_number, "expected key=value");
    }
    file.entries_[std::string(text.substr(0, eq))] = std::string(text.substr(eq + 1));
  }
  return file;
}

absl::Status KeyValueFile::Write(const std::string& path) const {
  std::string content;
  for (const auto& [key, value] : entries_) absl::StrAppend(&content, key, "=", Clean(value), "\n");
  return WriteAtomically(path, content);
}

std::string WorldManifestPath(const std::string& dir) { return dir + "/WORLD"; }
std::string WorldUsersPath(const std::string& dir) { return dir + "/users.tsv"; }
std::string WorldVideosPath(const std::string& dir) { return dir + "/videos.tsv"; }
std::string WorldEventsPath(const std::string& dir) { return dir + "/events.log"; }
std::string WorldTruthPath(const std::string& dir) { return dir + "/truth.bin"; }

absl::Status WriteWorldManifest(const std::string& dir, const WorldManifest& m) {
  KeyValueFile file;
  for (const auto& [key, value] : m.extra) file.Set(key, value);
  file.SetInt("format_version", kWorldFormatVersion);
  file.Set("kind", m.kind);
  file.SetInt("num_users", static_cast<int64_t>(m.num_users));
  file.SetInt("num_videos", static_cast<int64_t>(m.num_videos));
  file.SetInt("num_events", static_cast<int64_t>(m.num_events));
  file.SetInt("start_ms", m.start_ms);
  file.SetInt("end_ms", m.end_ms);
  return file.Write(WorldManifestPath(dir));
}

absl::StatusOr<WorldManifest> ReadWorldManifest(const std::string& dir) {
  if (!PathExists(WorldManifestPath(dir))) {
    return absl::NotFoundError(absl::StrCat(
        dir, " is not a world directory (no WORLD file); make one with `vrec generate` or "
             "`vrec import`"));
  }
  VREC_ASSIGN_OR_RETURN(KeyValueFile file, KeyValueFile::Read(WorldManifestPath(dir)));
  VREC_ASSIGN_OR_RETURN(int64_t version, file.GetInt("format_version"));
  if (version != kWorldFormatVersion) {
    return absl::InvalidArgumentError(absl::StrCat(dir, ": world format version ", version,
                                                   " is not supported (this build reads ",
                                                   kWorldFormatVersion, ")"));
  }
  WorldManifest m;
  VREC_ASSIGN_OR_RETURN(m.kind, file.Get("kind"));
  VREC_ASSIGN_OR_RETURN(int64_t users, file.GetInt("num_users"));
  VREC_ASSIGN_OR_RETURN(int64_t videos, file.GetInt("num_videos"));
  VREC_ASSIGN_OR_RETURN(int64_t events, file.GetInt("num_events"));
  VREC_ASSIGN_OR_RETURN(m.start_ms, file.GetInt("start_ms"));
  VREC_ASSIGN_OR_RETURN(m.end_ms, file.GetInt("end_ms"));
  m.num_users = static_cast<uint64_t>(users);
  m.num_videos = static_cast<uint64_t>(videos);
  m.num_events = static_cast<uint64_t>(events);
  for (const auto& [key, value] : file.entries()) {
    static const char* kCore[] = {"format_version", "kind", "num_users", "num_videos",
                                  "num_events", "start_ms", "end_ms"};
    if (std::find(std::begin(kCore), std::end(kCore), key) == std::end(kCore)) {
      m.extra[key] = value;
    }
  }
  return m;
}

absl::Status WriteUsers(const std::string& path, const std::vector<User>& users) {
  std::string out = absl::StrCat(kUsersHeader, "\n");
  out.reserve(users.size() * 32);
  for (const User& u : users) {
    absl::StrAppend(&out, u.id, "\t", Clean(u.country), "\t", Clean(u.language), "\t",
                    u.age_bucket, "\t", u.signup_ms, "\n");
  }
  return WriteAtomically(path, out);
}

absl::Status WriteVideos(const std::string& path, const std::vector<Video>& videos) {
  std::string out = absl::StrCat(kVideosHeader, "\n");
  out.reserve(videos.size() * 64);
  std::vector<std::string> tags;
  for (const Video& v : videos) {
    tags.clear();
    for (const std::string& t : v.tags) tags.push_back(Clean(t, /*is_tag=*/true));
    absl::StrAppend(&out, v.id, "\t", Clean(v.category), "\t", absl::StrJoin(tags, "|"), "\t");
    if (v.creator_id != kInvalidId) absl::StrAppend(&out, v.creator_id);
    absl::StrAppend(&out, "\t", v.duration_ms, "\t", Clean(v.language), "\t", v.upload_ms, "\t",
                    Clean(v.title), "\n");
  }
  return WriteAtomically(path, out);
}

absl::StatusOr<std::vector<User>> ReadUsers(const std::string& path) {
  std::vector<User> users;
  VREC_RETURN_IF_ERROR(ForEachTsvRow(
      path, kUsersHeader, 5, [&](int64_t line, const std::vector<absl::string_view>& f) {
        User u;
        uint32_t age;
        if (!ParseNumber(f[0], &u.id) || u.id == kInvalidId) {
          return LineError(path, line, absl::StrCat("bad user_id '", f[0], "'"));
        }
        if (!ParseNumber(f[3], &age) || age > 6) {
          return LineError(path, line, absl::StrCat("bad age_bucket '", f[3], "' (0-6)"));
        }
        if (!ParseNumber(f[4], &u.signup_ms)) {
          return LineError(path, line, absl::StrCat("bad signup_ms '", f[4], "'"));
        }
        u.country = std::string(f[1]);
        u.language = std::string(f[2]);
        u.age_bucket = static_cast<uint8_t>(age);
        users.push_back(std::move(u));
        return absl::OkStatus();
      }));
  return users;
}

absl::StatusOr<std::vector<Video>> ReadVideos(const std::string& path) {
  std::vector<Video> videos;
  VREC_RETURN_IF_ERROR(ForEachTsvRow(
      path, kVideosHeader, 8, [&](int64_t line, const std::vector<absl::string_view>& f) {
        Video v;
        if (!ParseNumber(f[0], &v.id) || v.id == kInvalidId) {
          return LineError(path, line, absl::StrCat("bad video_id '", f[0], "'"));
        }
        if (!f[3].empty() && !ParseNumber(f[3], &v.creator_id)) {
          return LineError(path, line, absl::StrCat("bad creator_id '", f[3], "'"));
        }
        if (!ParseNumber(f[4], &v.duration_ms)) {
          return LineError(path, line, absl::StrCat("bad duration_ms '", f[4], "'"));
        }
        if (!ParseNumber(f[6], &v.upload_ms)) {
          return LineError(path, line, absl::StrCat("bad upload_ms '", f[6], "'"));
        }
        v.category = std::string(f[1]);
        if (!f[2].empty()) v.tags = absl::StrSplit(f[2], '|');
        v.language = std::string(f[5]);
        v.title = std::string(f[7]);
        videos.push_back(std::move(v));
        return absl::OkStatus();
      }));
  return videos;
}

absl::Status MakeDirs(const std::string& dir) {
  if (dir.empty()) return absl::InvalidArgumentError("empty directory path");
  for (size_t slash = dir.find('/', 1);; slash = dir.find('/', slash + 1)) {
    const std::string prefix = dir.substr(0, slash);
    if (::mkdir(prefix.c_str(), 0755) != 0 && errno != EEXIST) {
      return absl::InternalError(
          absl::StrCat("cannot create directory ", prefix, ": ", std::strerror(errno)));
    }
    if (slash == std::string::npos) return absl::OkStatus();
  }
}

bool PathExists(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0;
}

Catalog::Catalog(std::vector<User> users, std::vector<Video> videos)
    : users_(std::move(users)), videos_(std::move(videos)) {
  UserId max_user = 0;
  for (const User& u : users_) max_user = std::max(max_user, u.id);
  VideoId max_video = 0;
  for (const Video& v : videos_) max_video = std::max(max_video, v.id);
  user_index_.assign(users_.empty() ? 0 : size_t{max_user} + 1, kInvalidId);
  video_index_.assign(videos_.empty() ? 0 : size_t{max_video} + 1, kInvalidId);
  for (size_t i = 0; i < users_.size(); ++i) user_index_[users_[i].id] = static_cast<uint32_t>(i);
  for (size_t i = 0; i < videos_.size(); ++i) {
    video_index_[videos_[i].id] = static_cast<uint32_t>(i);
  }
}

const User* Catalog::FindUser(UserId id) const {
  if (id >= user_index_.size() || user_index_[id] == kInvalidId) return nullptr;
  return &users_[user_index_[id]];
}

const Video* Catalog::FindVideo(VideoId id) const {
  if (id >= video_index_.size() || video_index_[id] == kInvalidId) return nullptr;
  return &videos_[video_index_[id]];
}

absl::StatusOr<Catalog> ReadCatalog(const std::string& dir) {
  VREC_ASSIGN_OR_RETURN(std::vector<User> users, ReadUsers(WorldUsersPath(dir)));
  VREC_ASSIGN_OR_RETURN(std::vector<Video> videos, ReadVideos(WorldVideosPath(dir)));
  return Catalog(std::move(users), std::move(videos));
}

}  // namespace vrec
