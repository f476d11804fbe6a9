// `vrec generate`: a deterministic synthetic world. Users have latent tastes over topics;
// videos have topic mixtures, creators, durations, quality and Zipf-like popularity; uploads
// and sign-ups arrive throughout the period. A logging policy (mostly taste-driven, some
// exploration and fresh uploads) serves slates of impressions; users engage with position
// bias, affinity, quality and language driving clicks, watch time, likes, shares and skips.
// The latent truth is written next to the world so replay can compute an oracle ranking.
#ifndef VREC_DATA_GENERATE_H_
#define VREC_DATA_GENERATE_H_

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "common/world.h"

namespace vrec::data {

struct GenerateOptions {
  uint64_t seed = 42;               // same seed and options, same world, byte for byte
  uint32_t num_users = 50000;
  uint32_t num_videos = 200000;
  uint64_t num_events = 5000000;    // approximate; the generator stops at the first slate past it
  uint32_t days = 30;               // length of the logged period
  TimestampMs start_ms = 1767225600000;  // 2026-01-01T00:00:00Z
  uint32_t num_topics = 24;         // at most 24 (one category name each)
  bool show_progress = true;
};

// Writes a world into `out_dir` (created if missing; existing world files are replaced).
// InvalidArgument for out-of-range options.
absl::StatusOr<WorldManifest> GenerateWorld(const std::string& out_dir,
                                            const GenerateOptions& options);

}  // namespace vrec::data

#endif  // VREC_DATA_GENERATE_H_
