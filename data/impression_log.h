// The impression log's format: every feed the server answers, as one JSON line — request id,
// time, user, model version, and per item its position, score and propensity (the probability
// the policy placed it there; ranking/reranker.h). The server appends it
// (serving/impression_log.h); offline jobs read it back here to join served items with the
// events that followed (same request id) and to weight them by propensity.
//
//   {"request_id":"00ab...","time_ms":1769...,"user_id":5,"model_version":"2","items":[
//     {"video_id":17,"position":0,"score":0.31,"propensity":1}, ...]}
#ifndef VREC_DATA_IMPRESSION_LOG_H_
#define VREC_DATA_IMPRESSION_LOG_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "common/types.h"

namespace vrec::data {

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

// One line of the log, without the newline.
std::string FormatServedFeed(const ServedFeed& feed);

// Reads a whole impression log. A malformed line is an InvalidArgument naming the line,
// except a torn last line (no newline), which is skipped.
absl::StatusOr<std::vector<ServedFeed>> ReadImpressionLog(const std::string& path);

// Every served item as an impression event (user, video, time, request id, position), sorted
// by time: what slate replay joins with the engagement events that name the same request.
std::vector<Event> ServedImpressionEvents(const std::vector<ServedFeed>& feeds);

}  // namespace vrec::data

#endif  // VREC_DATA_IMPRESSION_LOG_H_
