// The deep ranker: stage two of the feed. One shared MLP over user features, video features,
// cross features (ranking/cross_features.h) and request context, with heads for P(click),
// P(watch >= 50%) and P(like or share) given the video is shown, and P(shown) under the
// logging policy (exposure). They combine into one score by weights that live in the bundle's
// MANIFEST: (w_click p_click + w_watch p_watch + w_like p_like) * odds_exposure ^ w_exposure.
// The exposure head is trained against uniformly sampled catalog videos, so its odds
// p / (1 - p) are proportional to how often the policy would show the video: with
// w_exposure 1 the score ranks by expected engagement (as an offline replay of the logging
// policy counts it), with 0 by engagement given the video is shown. Training (training/ranker_trainer.h) and serving share this
// definition; the header is LibTorch-free (the modules are in internal/ranker_net.h).
//
// The first layer is split into a user part and a video part (h1 = relu(W_u u + W_v v)), so a
// request computes the user part once and the video part for all candidates in one GEMM.
// Explicit dot-product interactions (history x video id, top categories x category and tags)
// give the MLP the user-video match it could not form from the sum alone.
#ifndef VREC_RANKING_RANKER_H_
#define VREC_RANKING_RANKER_H_

#include <array>
#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "common/world.h"
#include "featurestore/transforms.h"
#include "ranking/cross_features.h"

namespace vrec::ranking {

// The first three heads are conditional on the video being shown (trained on logged
// impressions); the exposure head is P(the logging policy shows this video to this user),
// trained on impressions against videos sampled from the catalog.
enum RankerHead : int { kHeadClick = 0, kHeadWatch = 1, kHeadLike = 2, kHeadExposure = 3, kNumRankerHeads = 4 };
inline constexpr int kEngagementHeads = 3;

// "click", "watch50", "like", "exposure".
const char* RankerHeadName(int head);

struct RankerConfig {
  int id_dim = 32;         // hashed video-id embedding width (candidate and history)
  int category_dim = 16;   // category, tag and creator embedding width
  int hidden_dim = 512;    // first shared layer (split into user and video parts)
  int hidden2_dim = 256;   // second shared layer
  featurestore::TransformOptions transform;  // hash bucket counts; must match the features fed in
  // Final score = (sum over engagement heads of weight * probability) * exposure odds ^ weight.
  // The default (1, 1, 1, 1) approximates the expected relevance grade (click 1, long watch 2,
  // like or share 3) of showing the video.
  std::array<float, kNumRankerHeads> head_weights = {1.0f, 1.0f, 1.0f, 1.0f};

  [[nodiscard]] absl::Status Validate() const;
};

namespace internal {
class RankerNetHolder;
}  // namespace internal

// Thread-safe for concurrent Score* calls once loaded (inference only).
class RankerModel {
 public:
  static absl::StatusOr<std::unique_ptr<RankerModel>> Create(const RankerConfig& config, uint64_t seed);
  // Loads weights saved by Save() under the same config. DataLoss for a missing or corrupt file.
  static absl::StatusOr<std::unique_ptr<RankerModel>> Load(const std::string& path, const RankerConfig& config);
  ~RankerModel();

  [[nodiscard]] absl::Status Save(const std::string& path) const;

  // One request: all candidates of one user in one batched forward under InferenceMode.
  // heads[i * kNumRankerHeads + h] = probability of head h for videos[i]. `cross` is aligned
  // with `videos`. InvalidArgument on misaligned spans.
  [[nodiscard]] absl::Status Score(const featurestore::UserInputs& user,
                                   absl::Span<const featurestore::VideoInputs> videos,
                                   absl::Span<const CrossInputs> cross, float* heads) const;
  // One user per video (evaluation over many slates).
  [[nodiscard]] absl::Status ScoreExamples(absl::Span<const featurestore::UserInputs> users,
                                           absl::Span<const featurestore::VideoInputs> videos,
                                           absl::Span<const CrossInputs> cross, float* heads) const;

  // The weighted combination of one candidate's head probabilities.
  float Combine(const float* heads) const;
  // Floating-point operations of the dense layers per candidate (2 per multiply-add), for
  // `vrec bench ranking`.
  double FlopsPerCandidate() const;

  const RankerConfig& config() const { return config_; }
  void set_head_weights(const std::array<float, kNumRankerHeads>& w) { config_.head_weights = w; }
  // The trainable network (for training/ only).
  internal::RankerNetHolder& net() { return *net_; }

 private:
  RankerModel(const RankerConfig& config, std::unique_ptr<internal::RankerNetHolder> net);
  RankerConfig config_;
  std::unique_ptr<internal::RankerNetHolder> net_;
};

}  // namespace vrec::ranking

#endif  // VREC_RANKING_RANKER_H_
