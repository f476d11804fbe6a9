// The replay evaluator: splits a world's log into a past and a future, asks each system
// under test for a top-k list per test user using only the past, and scores the lists
// against what the user engaged with in the future.
//
// Protocols:
//   time-split      one split time T (default: 90% of the way through the log). History is
//                   everything before T; relevance is each user's engagement at or after T
//                   (graded, see RelevanceGrade), minus videos already engaged before T.
//   leave-last-out  per user, the last distinct engaged video is the test item and all
//                   earlier ones are history (the MicroLens protocol); rank over all videos.
//   random          a seeded 25% of each video's engaged users are test pairs, the rest history
//                   (the Microsoft Recommenders MovieLens protocol; common/leave_last_out.h);
//                   every test user is asked once, as of the end of the log, and scored against
//                   all their test videos; rank over all videos.
// Systems only see the data a ReplayData exposes, which holds nothing from the future.
#ifndef VREC_EVALUATION_REPLAY_H_
#define VREC_EVALUATION_REPLAY_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "common/leave_last_out.h"
#include "common/random.h"
#include "common/types.h"
#include "common/world.h"
#include "retrieval/trending.h"
#include "common/metrics.h"
#include "data/synthetic_truth.h"

namespace vrec::evaluation {

enum class ReplayProtocol { kTimeSplit, kLeaveLastOut, kRandom };
// "time-split", "leave-last-out" or "random": the protocol's name in flags and MANIFESTs.
const char* ReplayProtocolName(ReplayProtocol protocol);

// "time-split", "leave-last-out" or "random" (the --protocol flag of replay and train-retrieval);
// InvalidArgument otherwise.
absl::StatusOr<ReplayProtocol> ParseReplayProtocol(absl::string_view name);

struct ReplayOptions {
  ReplayProtocol protocol = ReplayProtocol::kTimeSplit;
  int k = 10;                           // list length scored
  int deep_k = 100;                     // also Recall@deep_k (candidate-generation depth)
  TimestampMs split_time_ms = 0;        // time-split: T; 0 means use split_fraction
  double split_fraction = 0.9;          // time-split: T = start + fraction * (end - start)
  TimestampMs recent_window_ms = 3 * kMsPerDay;  // recent-popular's window before T
  uint32_t max_test_users = 10000;      // sample of test users (0: all); deterministic
  uint64_t seed = 1;                    // sampling and the random baseline
  int threads = 2;
  bool show_progress = true;
  // Slices: users with fewer past engaged videos than this are new users; videos uploaded
  // within this window before the test time are new videos.
  uint32_t new_user_history = 5;
  TimestampMs new_video_window_ms = 3 * kMsPerDay;
};

// One test point: a user, the time the system answers as of, what it already knows about
// the user, and the future it is scored against.
struct TestCase {
  UserId user = 0;
  TimestampMs as_of_ms = 0;
  std::vector<VideoId> history;  // engaged before as_of_ms, sorted, unique
  Relevance relevance;           // sorted by video id
};

// Everything the systems under test may use. Built from the past only.
struct ReplayData {
  ReplayProtocol protocol = ReplayProtocol::kTimeSplit;
  TimestampMs split_ms = 0;               // time-split T; leave-last-out: latest as_of
  std::vector<TestCase> cases;
  uint64_t eligible_users = 0;            // users with a test item, before sampling
  std::vector<VideoId> available;         // videos that exist as of the split, sorted
  std::vector<uint8_t> is_available;      // by video id
  retrieval::Trending popular;            // all engagement in the past
  retrieval::Trending recent;             // engagement in the recent window before the split
  uint64_t past_events = 0;
  uint64_t future_events = 0;
  // Every past engagement, sorted by (user, time): what learned baselines may train on.
  std::vector<Engagement> past_engagements;
  HeldOutItems held_out;                  // leave-last-out and random
  // By video id: category (0: unknown, else a dense index of the catalog's category names)
  // and upload time, for diversity and the new-video slice.
  std::vector<uint32_t> category_of;
  std::vector<TimestampMs> upload_ms;

  // Whether a logged event is in the past that systems may learn from.
  bool InPast(const Event& e) const {
    return protocol == ReplayProtocol::kTimeSplit ? e.timestamp_ms < split_ms : !held_out.IsTest(e.user_id, e.video_id);
  }
};

absl::StatusOr<ReplayData> BuildReplayData(const std::string& world_dir, const Catalog& catalog,
                                           const WorldManifest& manifest,
                                           const ReplayOptions& options);

// A system under test. Implementations are immutable; Recommend is called from several
// threads at once.
class ReplaySystem {
 public:
  virtual ~ReplaySystem() = default;
  virtual std::string name() const = 0;
  // Appends up to k videos for `test`, best first, none in test.history. k is the larger of
  // the scored list length and the deep recall cutoff.
  virtual void Recommend(const TestCase& test, int k, Rng& rng,
                         std::vector<VideoId>* out) const = 0;
};

// Tops the list that starts at (*out)[start] up to k videos from all-time popularity, skipping
// test.history and what the list already holds: the fallback of every system for users it has
// too little to say about.
void FillFromPopularity(const ReplayData& data, const TestCase& test, int k, size_t start, std::vector<VideoId>* out);

std::unique_ptr<ReplaySystem> MakeRandomSystem(const ReplayData& data);
std::unique_ptr<ReplaySystem> MakeMostPopularSystem(const ReplayData& data);
std::unique_ptr<ReplaySystem> MakeRecentPopularSystem(const ReplayData& data);
// Ranks by the true expected engagement of a synthetic world: exposure under the logging
// policy times click probability. InvalidArgument if the truth does not match the catalog.
absl::StatusOr<std::unique_ptr<ReplaySystem>> MakeOracleSystem(const ReplayData& data, const Catalog& catalog,
                                                               data::SyntheticTruth truth);

struct SystemResult {
  std::string name;
  RankingMetrics metrics;
  double recall_deep = 0;  // Recall@deep_k
  double coverage = 0;  // distinct recommended videos / available videos
  // Intra-list diversity: share of pairs in the top k of different categories (pairs of
  // videos with a known category), averaged over lists.
  double diversity = 0;
  // Novelty: mean self-information -log2 of a recommended video's share of past engagement
  // (add-one smoothed), in bits; higher means less popular.
  double novelty = 0;
  // Slices. New users: the metrics over test users with few past engaged videos. New videos:
  // the metrics against only the relevant videos that were new at the test time, over users
  // with any; and the share of recommended videos that were new.
  RankingMetrics new_users;
  uint64_t new_user_cases = 0;
  RankingMetrics new_videos;
  uint64_t new_video_cases = 0;
  double new_video_share = 0;
  uint64_t cases = 0;
  double seconds = 0;
};

std::vector<SystemResult> EvaluateSystems(const ReplayData& data,
                                          const std::vector<const ReplaySystem*>& systems,
                                          const ReplayOptions& options);

// A table for humans and a JSON document with the same numbers.
std::string FormatReplayTable(const ReplayData& data, const std::vector<SystemResult>& results,
                              const ReplayOptions& options);
std::string ReplayJson(const std::string& world_dir, const ReplayData& data,
                       const std::vector<SystemResult>& results, const ReplayOptions& options);

}  // namespace vrec::evaluation

#endif  // VREC_EVALUATION_REPLAY_H_
