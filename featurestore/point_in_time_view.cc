#include "featurestore/point_in_time_view.h"

#include "common/status.h"

namespace vrec::featurestore {

absl::StatusOr<UserRead> PointInTimeFeatureView::GetUser(UserId id, TimestampMs now_ms) const {
  UserRead read;
  read.features = replay_->user(id);
  read.features.id = id;
  SetUserReadStatus(ttl_, now_ms, &read);
  return read;
}

absl::Status PointInTimeFeatureView::GetVideos(absl::Span<const VideoId> ids, TimestampMs now_ms,
                                               std::vector<VideoRead>* out) const {
  out->resize(ids.size());
  for (size_t i = 0; i < ids.size(); ++i) {
    VideoRead& r = (*out)[i];
    r.features = replay_->video(ids[i]);
    r.features.id = ids[i];
    SetVideoReadStatus(ttl_, now_ms, &r);
  }
  return absl::OkStatus();
}

absl::Status PointInTimeFeatureView::ForEachVideo(
    const std::function<absl::Status(const VideoFeatures&)>& fn) const {
  for (const VideoFeatures* v : replay_->AllVideos()) {
    if (v->known && v->upload_ms >= as_of_ms_) continue;  // not uploaded yet
    VREC_RETURN_IF_ERROR(fn(*v));
  }
  return absl::OkStatus();
}

}  // namespace vrec::featurestore
