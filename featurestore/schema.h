// The on-disk encoding of features in the store. Every value starts with the schema version
// byte; a store records the version it was written with and refuses to open with another.
//
// Version 2 (little-endian; str = varint length + bytes; vec = varint count + elements):
//   video:   u8 version, u8 known, str category, vec<str> tags, u32 creator_id,
//            u32 duration_ms, str language, i64 upload_ms, counters
//   user:    u8 version, u8 known, str country, str language, u8 age_bucket, i64 signup_ms,
//            i64 last_active_ms, counters, i64 affinity_ms, vec<u32 category, f32 week, f32 total>
//   history: u8 version, vec<u32 video_id, i64 time_ms, f32 watch_ratio, u8 signals>,
//            vec<varint (video_id << 1 | engaged)> (the earlier videos)
//   counters: i64 updated_ms, 5 x f32 day, 5 x f32 week, 5 x f64 total
#ifndef VREC_FEATURESTORE_SCHEMA_H_
#define VREC_FEATURESTORE_SCHEMA_H_

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "featurestore/features.h"

namespace vrec::featurestore {

inline constexpr uint8_t kFeatureSchemaVersion = 2;  // 2: the earlier videos

void EncodeVideo(const VideoFeatures& video, std::string* out);
void EncodeUser(const UserFeatures& user, std::string* out);  // without history
// The user's history and earlier videos.
void EncodeHistory(const UserFeatures& user, std::string* out);

// DataLoss on truncated or malformed bytes, FailedPrecondition on another schema version.
// The id is not part of the value; callers set it.
[[nodiscard]] absl::Status DecodeVideo(absl::string_view bytes, VideoFeatures* video);
[[nodiscard]] absl::Status DecodeUser(absl::string_view bytes, UserFeatures* user);
[[nodiscard]] absl::Status DecodeHistory(absl::string_view bytes, UserFeatures* user);

}  // namespace vrec::featurestore

#endif  // VREC_FEATURESTORE_SCHEMA_H_
