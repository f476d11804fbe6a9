// The impression log's writer: the server appends every feed it answers, one JSON line each
// (the format and its reader: data/impression_log.h).
#ifndef VREC_SERVING_IMPRESSION_LOG_H_
#define VREC_SERVING_IMPRESSION_LOG_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "common/types.h"
#include "data/impression_log.h"

namespace vrec::serving {

struct ImpressionLogOptions {
  // When a line would take the file past this size it is rotated first: path.1 becomes
  // path.2 and so on, path becomes path.1, and a new path is started. 0: never rotate.
  uint64_t max_bytes = uint64_t{1} << 30;
  int keep = 5;  // rotated files kept (path.1 … path.keep); older ones are deleted
};

// Appends feeds to a file. Thread-safe: Append may run on every server thread. Each line
// reaches the OS with one write(2) as it is appended (a crash loses at most the line being
// written, which readers skip); it is not fsynced. The file rotates at a size cap, so the log
// on disk stays under (keep + 1) x max_bytes.
class ImpressionLog {
 public:
  // Opens `path` for appending, creating it. InvalidArgument/Internal naming the path.
  static absl::StatusOr<std::unique_ptr<ImpressionLog>> Open(const std::string& path,
                                                             const ImpressionLogOptions& options = {});
  ~ImpressionLog();

  [[nodiscard]] absl::Status Append(const data::ServedFeed& feed);
  uint64_t appended() const;
  uint64_t rotations() const;

 private:
  ImpressionLog(std::string path, int fd, uint64_t size, const ImpressionLogOptions& options)
      : path_(std::move(path)), options_(options), fd_(fd), size_(size) {}
  absl::Status Rotate() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const std::string path_;
  const ImpressionLogOptions options_;
  mutable absl::Mutex mu_;
  int fd_ ABSL_GUARDED_BY(mu_);
  uint64_t size_ ABSL_GUARDED_BY(mu_);
  uint64_t appended_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t rotations_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace vrec::serving

#endif  // VREC_SERVING_IMPRESSION_LOG_H_
