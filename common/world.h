// A world is a directory holding one dataset: who the users are, what the videos are, and
// what happened. Every offline job reads one; `vrec generate` and `vrec import` write one.
//
//   <world>/WORLD        manifest: `key=value` lines (format_version, kind, counts, time range)
//   <world>/users.tsv    header + one user per line:  user_id country language age_bucket signup_ms
//   <world>/videos.tsv   header + one video per line: video_id category tags creator_id
//                        duration_ms language upload_ms title   (tags are '|'-separated)
//   <world>/events.log   the event log (common/event_log.h), in time order
//   <world>/truth.bin    synthetic worlds only: the latent preferences (data/synthetic_truth.h)
#ifndef VREC_COMMON_WORLD_H_
#define VREC_COMMON_WORLD_H_

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "common/types.h"

namespace vrec {

inline constexpr int kWorldFormatVersion = 1;

// Ordered `key=value` text file (a world's WORLD, a bundle's MANIFEST). Keys are
// [a-z0-9_.]+; values are single-line strings.
class KeyValueFile {
 public:
  void Set(const std::string& key, const std::string& value) { entries_[key] = value; }
  void SetInt(const std::string& key, int64_t value) { Set(key, std::to_string(value)); }
  bool Has(const std::string& key) const { return entries_.count(key) > 0; }
  // NotFound naming the key and file when absent.
  absl::StatusOr<std::string> Get(const std::string& key) const;
  // InvalidArgument when the value is not an integer.
  absl::StatusOr<int64_t> GetInt(const std::string& key) const;
  std::string GetOr(const std::string& key, const std::string& fallback) const;

  const std::map<std::string, std::string>& entries() const { return entries_; }

  // Reads `path`; NotFound if missing, InvalidArgument naming the line if malformed.
  static absl::StatusOr<KeyValueFile> Read(const std::string& path);
  // Writes atomically (temporary file + rename).
  [[nodiscard]] absl::Status Write(const std::string& path) const;

 private:
  std::string path_;
  std::map<std::string, std::string> entries_;
};

// The WORLD manifest.
struct WorldManifest {
  std::string kind;            // "synthetic", "microlens", "movielens", "csv"
  uint64_t num_users = 0;
  uint64_t num_videos = 0;
  uint64_t num_events = 0;
  TimestampMs start_ms = 0;    // earliest event time
  TimestampMs end_ms = 0;      // latest event time
  std::map<std::string, std::string> extra;  // generator settings, source files, ...
};

// Paths inside a world directory.
std::string WorldManifestPath(const std::string& dir);
std::string WorldUsersPath(const std::string& dir);
std::string WorldVideosPath(const std::string& dir);
std::string WorldEventsPath(const std::string& dir);
std::string WorldTruthPath(const std::string& dir);

[[nodiscard]] absl::Status WriteWorldManifest(const std::string& dir, const WorldManifest& m);
// NotFound if `dir` has no WORLD file ("not a world directory"), InvalidArgument on a format
// version this build does not read.
absl::StatusOr<WorldManifest> ReadWorldManifest(const std::string& dir);

[[nodiscard]] absl::Status WriteUsers(const std::string& path, const std::vector<User>& users);
[[nodiscard]] absl::Status WriteVideos(const std::string& path, const std::vector<Video>& videos);
// Errors name the file and line.
absl::StatusOr<std::vector<User>> ReadUsers(const std::string& path);
absl::StatusOr<std::vector<Video>> ReadVideos(const std::string& path);

// Creates `dir` and its parents if missing.
[[nodiscard]] absl::Status MakeDirs(const std::string& dir);
bool PathExists(const std::string& path);

// Users and videos of a world, indexed by id for O(1) lookup (ids may be sparse).
class Catalog {
 public:
  Catalog() = default;
  Catalog(std::vector<User> users, std::vector<Video> videos);

  const std::vector<User>& users() const { return users_; }
  const std::vector<Video>& videos() const { return videos_; }
  // nullptr when unknown.
  const User* FindUser(UserId id) const;
  const Video* FindVideo(VideoId id) const;
  // One past the largest video id (size for arrays indexed by VideoId).
  VideoId video_id_limit() const { return static_cast<VideoId>(video_index_.size()); }
  UserId user_id_limit() const { return static_cast<UserId>(user_index_.size()); }

 private:
  std::vector<User> users_;
  std::vector<Video> videos_;
  std::vector<uint32_t> user_index_;   // id -> position in users_, or kInvalidId
  std::vector<uint32_t> video_index_;  // id -> position in videos_, or kInvalidId
};

// Reads users.tsv and videos.tsv of a world.
absl::StatusOr<Catalog> ReadCatalog(const std::string& dir);

}  // namespace vrec

#endif  // VREC_COMMON_WORLD_H_
