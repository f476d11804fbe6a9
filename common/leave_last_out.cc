#include "common/leave_last_out.h"

#include <algorithm>
#include <cmath>
#include <tuple>

#include "absl/strings/str_cat.h"
#include "common/event_log.h"
#include "common/random.h"
#include "common/status.h"

namespace vrec {

absl::StatusOr<std::vector<Engagement>> ReadEngagementsByUser(const std::string& events_path) {
  std::vector<Engagement> rows;
  VREC_RETURN_IF_ERROR(ForEachEventBlock(events_path, [&](absl::Span<const Event> block) {
    for (const Event& e : block) {
      if (IsEngagement(e.type)) rows.push_back({e.user_id, e.video_id, e.timestamp_ms});
    }
    return absl::OkStatus();
  }));
  std::stable_sort(rows.begin(), rows.end(), [](const Engagement& a, const Engagement& b) {
    return std::tie(a.user, a.time) < std::tie(b.user, b.time);
  });
  return rows;
}

HeldOutItems SplitLeaveLastOut(absl::Span<const Engagement> by_user) {
  HeldOutItems items;
  const size_t users = by_user.empty() ? 0 : size_t{by_user.back().user} + 1;
  items.test.assign(users, kInvalidId);
  items.test_time.assign(users, 0);
  items.validation.assign(users, kInvalidId);
  std::vector<const Engagement*> order;  // first engagement with each distinct video
  ForEachUserRun(by_user, [&](UserId user, auto begin, auto end) {
    order.clear();
    for (auto it = begin; it != end; ++it) {
      const bool seen = std::any_of(order.begin(), order.end(),
                                    [&](const Engagement* o) { return o->video == it->video; });
      if (!seen) order.push_back(&*it);
    }
    if (order.size() >= 2) {
      items.test[user] = order.back()->video;
      items.test_time[user] = order.back()->time;
    }
    if (order.size() >= 3) items.validation[user] = order[order.size() - 2]->video;
  });
  return items;
}

HeldOutItems SplitRandomPerVideo(absl::Span<const Engagement> by_user, uint64_t seed) {
  HeldOutItems items;
  items.random = true;
  std::vector<std::pair<VideoId, UserId>> pairs;
  pairs.reserve(by_user.size());
  for (const Engagement& e : by_user) pairs.push_back({e.video, e.user});
  std::sort(pairs.begin(), pairs.end());
  pairs.erase(std::unique(pairs.begin(), pairs.end()), pairs.end());
  Rng rng(seed);
  std::vector<UserId> users;
  for (size_t i = 0; i < pairs.size();) {
    const VideoId video = pairs[i].first;
    users.clear();
    for (; i < pairs.size() && pairs[i].first == video; ++i) users.push_back(pairs[i].second);
    for (size_t j = users.size(); j > 1; --j) std::swap(users[j - 1], users[rng.UniformInt(j)]);
    const size_t test = static_cast<size_t>(std::lround(kRandomTestShare * users.size()));
    const size_t validation = static_cast<size_t>(std::lround(kRandomValidationShare * (users.size() - test)));
    for (size_t j = 0; j < test; ++j) items.test_pairs.insert(HeldOutItems::Pair(users[j], video));
    for (size_t j = test; j < test + validation; ++j) items.validation_pairs.insert(HeldOutItems::Pair(users[j], video));
  }
  return items;
}

absl::StatusOr<HeldOutItems> SplitHeldOut(absl::string_view protocol, absl::Span<const Engagement> by_user) {
  if (protocol == "leave-last-out") return SplitLeaveLastOut(by_user);
  if (protocol == "random") return SplitRandomPerVideo(by_user);
  return absl::InvalidArgumentError(
      absl::StrCat("protocol '", protocol, "' holds out no items (want leave-last-out or random)"));
}

}  // namespace vrec
