// The latent "true preferences" behind a synthetic world: user tastes over topics, video
// topics, quality and popularity, and the behaviour model that turned them into events. The
// world generator writes it to <world>/truth.bin; the replay evaluator's oracle reads it to
// rank by what each user would really engage with (the ceiling for every other system).
#ifndef VREC_DATA_SYNTHETIC_TRUTH_H_
#define VREC_DATA_SYNTHETIC_TRUTH_H_

#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "common/types.h"

namespace vrec::data {

// Behaviour-model constants, stored with the truth so an oracle always matches its world.
struct BehaviourModel {
  float click_bias = -2.7f;          // click logit at zero affinity, average quality
  float affinity_weight = 3.2f;      // per unit of topic affinity in [0, 1]
  float quality_weight = 0.6f;       // per standard deviation of quality
  float language_mismatch = -1.0f;   // when user and video languages differ
  float explore_fraction = 0.10f;    // impressions on a uniformly chosen topic
  float fresh_fraction = 0.10f;      // impressions on a uniformly chosen fresh upload
  float fresh_window_days = 2.0f;    // what counts as a fresh upload
  float freshness_floor = 0.03f;     // exposure multiplier of old videos (new ones: 1)
  float freshness_days = 2.0f;       // e-folding time of the freshness multiplier
};

// Immutable after construction; safe to share across threads. Users and videos are indexed
// by id (synthetic ids are dense, 0..n-1).
struct SyntheticTruth {
  int num_topics = 0;
  BehaviourModel model;
  // num_users * num_topics, row-major: user taste, a point on the simplex.
  std::vector<float> user_taste;
  std::vector<uint8_t> user_language;  // index into the generator's language list
  std::vector<uint16_t> video_topic;   // main topic
  std::vector<uint16_t> video_topic2;  // secondary topic
  std::vector<float> video_quality;    // standard normal
  std::vector<float> video_popularity; // relative exposure weight within its topic
  std::vector<uint8_t> video_language;
  std::vector<TimestampMs> video_upload_ms;

  size_t num_users() const { return user_language.size(); }
  size_t num_videos() const { return video_topic.size(); }
  const float* taste(UserId u) const { return &user_taste[size_t{u} * num_topics]; }

  // Topic match in [0, 1]: the video's topic mix weighted by the user's taste, relative to the
  // user's favourite topic.
  float Affinity(UserId u, VideoId v) const;
  // P(click | the user looked at the slot).
  float ClickProbability(UserId u, VideoId v) const;
  // Exposure multiplier of a video of age `age_ms` (1 when new, freshness_floor when old).
  // The logging policy evaluates it once per day, at ExposureDay(t).
  float Freshness(TimestampMs age_ms) const {
    if (age_ms < 0) return 0.0f;
    const double days = static_cast<double>(age_ms) / kMsPerDay;
    return model.freshness_floor +
           (1.0f - model.freshness_floor) * static_cast<float>(std::exp(-days / model.freshness_days));
  }
};

// The start (UTC midnight) of the day containing `t`: the logging policy's topic samplers
// weigh videos by popularity x freshness as of this time, over videos uploaded before it.
inline TimestampMs ExposureDay(TimestampMs t) { return t - ((t % kMsPerDay) + kMsPerDay) % kMsPerDay; }

// Main and secondary topic weights of every video's topic mix.
inline constexpr float kMainTopicWeight = 0.75f;

[[nodiscard]] absl::Status WriteSyntheticTruth(const std::string& path, const SyntheticTruth& t);
// NotFound if absent; InvalidArgument if not a truth file or another version; DataLoss if
// truncated.
absl::StatusOr<SyntheticTruth> ReadSyntheticTruth(const std::string& path);

}  // namespace vrec::data

#endif  // VREC_DATA_SYNTHETIC_TRUTH_H_
