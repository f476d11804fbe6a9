// `vrec replay` as a library: builds the replay data of a world, the systems asked for
// (baselines, the two-tower model and the full pipeline of a bundle, the synthetic oracle),
// scores them side by side and reports the full pipeline stage by stage (retrieval recall,
// slate replay of the ranker, the feed). The command line (tools/cmd_replay.cc) only parses
// flags into ReplayRunOptions.
#ifndef VREC_EVALUATION_REPLAY_RUN_H_
#define VREC_EVALUATION_REPLAY_RUN_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "evaluation/replay.h"

namespace vrec::evaluation {

// Every system `vrec replay` knows, in report order.
inline constexpr const char* kReplaySystems[] = {"random",    "most-popular",  "recent-popular", "item-knn", "ease",
                                                 "two-tower", "full-pipeline", "oracle"};
// ReplayRunOptions::impression_log: WORLD/impressions.jsonl when it exists.
inline constexpr const char* kDefaultImpressionLog = "-";

struct ReplayRunOptions {
  std::string world;
  ReplayOptions replay;
  // Systems to run. Empty: every one that can run here (the others are skipped with a note);
  // a system named here that cannot run is an error.
  std::vector<std::string> systems;
  std::string models_dir;        // bundles for two-tower and full-pipeline ("": none)
  int64_t bundle_version = 0;    // 0: the newest
  std::string impression_log = kDefaultImpressionLog;  // served feeds for slate replay ("": none)
  uint64_t max_slate_impressions = 200000;             // logged impressions slate replay re-ranks (0: all)
  // Systems the caller builds once the replay data exists, scored after the built-in ones (the
  // command line's --server: the feeds of a running server over HTTP).
  std::vector<std::function<absl::StatusOr<std::unique_ptr<ReplaySystem>>(const ReplayData&)>> extra_systems;
  double ease_lambda = 200;   // the ease baseline's regularisation
  int ease_cap = 20000;       // and the most engaged videos it covers
};

// InvalidArgument naming an unknown system or a missing --models.
[[nodiscard]] absl::Status ValidateReplayRun(const ReplayRunOptions& options);

struct ReplayReport {
  std::string table;  // for humans
  std::string json;   // the same numbers
};

// Runs the replay. Errors: unreadable world or bundle, a bundle that saw the test period, a
// named system that cannot run.
absl::StatusOr<ReplayReport> EvaluateReplay(const ReplayRunOptions& options);

}  // namespace vrec::evaluation

#endif  // VREC_EVALUATION_REPLAY_RUN_H_
