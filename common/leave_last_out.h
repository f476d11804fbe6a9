// The leave-last-out split (the MicroLens protocol), computed in one place so that training
// never sees the replay's test items: per user, the distinct engaged videos in order of first
// engagement (by time; equal times keep log order). The last is the test item, the one before
// it the validation item.
#ifndef VREC_COMMON_LEAVE_LAST_OUT_H_
#define VREC_COMMON_LEAVE_LAST_OUT_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "common/types.h"

namespace vrec {

struct Engagement {
  UserId user = 0;
  VideoId video = 0;
  TimestampMs time = 0;
};

// Every engagement (IsEngagement) in the log, sorted by (user, time), stable.
absl::StatusOr<std::vector<Engagement>> ReadEngagementsByUser(const std::string& events_path);

struct LeaveLastOutItems {
  // By user id; kInvalidId when the user has too few distinct engaged videos (test: 2,
  // validation: 3).
  std::vector<VideoId> test;
  std::vector<TimestampMs> test_time;  // first engagement with the test item
  std::vector<VideoId> validation;

  bool IsTest(UserId user, VideoId video) const {
    return user < test.size() && test[user] == video && video != kInvalidId;
  }
};

// `by_user` as ReadEngagementsByUser returns it.
LeaveLastOutItems SplitLeaveLastOut(absl::Span<const Engagement> by_user);

// Calls f(user, begin, end) for each user's run of engagements in `by_user`.
template <typename F>
void ForEachUserRun(absl::Span<const Engagement> by_user, F f) {
  for (size_t i = 0; i < by_user.size();) {
    size_t j = i;
    while (j < by_user.size() && by_user[j].user == by_user[i].user) ++j;
    f(by_user[i].user, by_user.begin() + i, by_user.begin() + j);
    i = j;
  }
}

}  // namespace vrec

#endif  // VREC_COMMON_LEAVE_LAST_OUT_H_
