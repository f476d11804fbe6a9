// The held-out splits, computed in one place so that training never sees the replay's test
// items:
//   leave-last-out  (the MicroLens protocol) per user, the distinct engaged videos in order of
//                   first engagement (by time; equal times keep log order). The last is the test
//                   item, the one before it the validation item.
//   random          (the Microsoft Recommenders benchmark's protocol for MovieLens) per video, a
//                   seeded 25% of the distinct users who engaged with it are test pairs; of the
//                   rest, a seeded 10% per video are validation pairs. Time plays no part.
#ifndef VREC_COMMON_LEAVE_LAST_OUT_H_
#define VREC_COMMON_LEAVE_LAST_OUT_H_

#include <string>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
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

struct HeldOutItems {
  bool random = false;  // the random protocol (pairs below), else leave-last-out
  // Leave-last-out, by user id; kInvalidId when the user has too few distinct engaged videos
  // (test: 2, validation: 3).
  std::vector<VideoId> test;
  std::vector<TimestampMs> test_time;  // first engagement with the test item
  std::vector<VideoId> validation;
  // Random: (user << 32 | video) pairs.
  absl::flat_hash_set<uint64_t> test_pairs;
  absl::flat_hash_set<uint64_t> validation_pairs;

  static uint64_t Pair(UserId user, VideoId video) { return uint64_t{user} << 32 | video; }
  bool IsTest(UserId user, VideoId video) const {
    if (random) return test_pairs.contains(Pair(user, video));
    return user < test.size() && test[user] == video && video != kInvalidId;
  }
  bool IsValidation(UserId user, VideoId video) const {
    if (random) return validation_pairs.contains(Pair(user, video));
    return user < validation.size() && validation[user] == video && video != kInvalidId;
  }
};

// `by_user` as ReadEngagementsByUser returns it.
HeldOutItems SplitLeaveLastOut(absl::Span<const Engagement> by_user);

inline constexpr uint64_t kRandomSplitSeed = 42;
inline constexpr double kRandomTestShare = 0.25;
inline constexpr double kRandomValidationShare = 0.1;
HeldOutItems SplitRandomPerVideo(absl::Span<const Engagement> by_user, uint64_t seed = kRandomSplitSeed);

// "leave-last-out" or "random"; InvalidArgument for anything else (time-split holds out a time
// range, not items).
absl::StatusOr<HeldOutItems> SplitHeldOut(absl::string_view protocol, absl::Span<const Engagement> by_user);

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
