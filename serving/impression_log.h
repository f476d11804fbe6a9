// The impression log: every feed the server answers, as one JSON line — request id, time,
// user, model version, and per item its position, score and propensity (the probability the
// policy placed it there; ranking/reranker.h). Offline tools read it back to join served
// items with the events that followed (same request id) and to weight them by propensity.
//
//   {"request_id":"00ab...","time_ms":1769...,"user_id":5,"model_version":"2","items":[
//     {"video_id":17,"position":0,"score":0.31,"propensity":1}, ...]}
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

namespace vrec {

struct ServedItem {
  VideoId video_id = 0;
  uint16_t position = 0;
  float score = 0;
  float propensity = 1;
};

struct ServedFeed {
  RequestId request_id = 0;
  TimestampMs time_ms = 0;
  UserId user_id = 0;
  std::string model_version;
  std::vector<ServedItem> items;
};

// Appends feeds to a file. Thread-safe: Append may run on every server thread. Each line
// reaches the OS with one write(2) as it is appended (a crash loses at most the line being
// written, which readers skip); it is not fsynced.
class ImpressionLog {
 public:
  // Opens `path` for appending, creating it. InvalidArgument/Internal naming the path.
  static absl::StatusOr<std::unique_ptr<ImpressionLog>> Open(const std::string& path);
  ~ImpressionLog();

  [[nodiscard]] absl::Status Append(const ServedFeed& feed);
  uint64_t appended() const;

 private:
  explicit ImpressionLog(int fd) : fd_(fd) {}
  mutable absl::Mutex mu_;
  int fd_;
  uint64_t appended_ ABSL_GUARDED_BY(mu_) = 0;
};

// Reads a whole impression log. A malformed line is an InvalidArgument naming the line,
// except a torn last line (no newline), which is skipped.
absl::StatusOr<std::vector<ServedFeed>> ReadImpressionLog(const std::string& path);

// Every served item as an impression event (user, video, time, request id, position), sorted
// by time: what slate replay joins with the engagement events that name the same request.
std::vector<Event> ServedImpressionEvents(const std::vector<ServedFeed>& feeds);

}  // namespace vrec

#endif  // VREC_SERVING_IMPRESSION_LOG_H_
