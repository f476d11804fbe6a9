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

// Appends feeds to a file. Thread-safe: Append may run on every server thread. Each line
// reaches the OS with one write(2) as it is appended (a crash loses at most the line being
// written, which readers skip); it is not fsynced.
class ImpressionLog {
 public:
  // Opens `path` for appending, creating it. InvalidArgument/Internal naming the path.
  static absl::StatusOr<std::unique_ptr<ImpressionLog>> Open(const std::string& path);
  ~ImpressionLog();

  [[nodiscard]] absl::Status Append(const data::ServedFeed& feed);
  uint64_t appended() const;

 private:
  explicit ImpressionLog(int fd) : fd_(fd) {}
  mutable absl::Mutex mu_;
  int fd_;
  uint64_t appended_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace vrec::serving

#endif  // VREC_SERVING_IMPRESSION_LOG_H_
