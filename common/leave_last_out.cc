#include "common/leave_last_out.h"

#include <algorithm>
#include <tuple>

#include "common/event_log.h"
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

LeaveLastOutItems SplitLeaveLastOut(absl::Span<const Engagement> by_user) {
  LeaveLastOutItems items;
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

}  // namespace vrec
