// Re-ranking: the last step of the feed, after the ranker has scored every candidate. It turns
// a scored candidate list into the served slate: a freshness boost, limits on repeats of a
// category or creator within a sliding window, and an occasional exploration slot given to a
// fresh video that the ranker would not have shown, with the propensity of every placement
// recorded so that offline evaluation can correct for it. (Already watched, skipped,
// not-interested and `exclude=` videos never reach this step: retrieval drops them.)
#ifndef VREC_RANKING_RERANKER_H_
#define VREC_RANKING_RERANKER_H_

#include <cstdint>
#include <vector>

#include "absl/status/status.h"
#include "absl/types/span.h"
#include "common/types.h"

namespace vrec::ranking {

struct RerankOptions {
  // Freshness: score *= 1 + freshness_boost * exp(-age / freshness_window_ms). Default 0.15, 1 day.
  float freshness_boost = 0.15f;
  TimestampMs freshness_window_ms = kMsPerDay;
  // Diversity: within any `diversity_window` consecutive slots at most `max_same_category`
  // videos of one category and `max_same_creator` of one creator (0: no limit). When no
  // remaining candidate fits, the best one is taken anyway. Defaults 5, 2, 1.
  int diversity_window = 5;
  int max_same_category = 2;
  int max_same_creator = 1;
  // Exploration: with probability `explore_rate` the slot `explore_position` (0-based) goes to
  // a video drawn uniformly from the best `explore_pool` fresh-source candidates not otherwise
  // shown. Defaults 0.1, 3, 20; a rate of 0 disables it.
  double explore_rate = 0.1;
  int explore_position = 3;
  int explore_pool = 20;

  [[nodiscard]] absl::Status Validate() const;
};

// The rules a bundle keeps. train-ranker measures the feed's validation NDCG@10 with each rule
// on and off (training/fusion_trainer.h) and turns off the ones that lower it on this data (a
// category limit where categories are coarse, a freshness boost where timestamps are
// positions). Exploration stays only where the log has impressions to learn from the
// propensities it records (offline NDCG cannot value it: it always costs there).
struct RuleChoice {
  bool diversity = true;        // max_same_category / max_same_creator
  bool freshness_boost = true;
  bool exploration = true;
};

// `options` with the rules `choice` drops switched off.
RerankOptions WithRules(RerankOptions options, const RuleChoice& choice);

// One scored candidate.
struct RerankInput {
  float score = 0;              // the ranker's combined score (higher is better), >= 0
  uint32_t category = 0;        // CategoryHash of the category, 0 unknown (never limited)
  CreatorId creator = kInvalidId;  // kInvalidId: never limited
  TimestampMs upload_ms = 0;    // 0 unknown (no boost)
  bool fresh = false;           // came from the fresh-uploads source (eligible for exploration)
};

// Rules that changed an item's place, as bits of RerankedItem::rules.
enum RerankRule : uint8_t {
  kRuleFreshnessBoost = 1,  // the boost raised its score
  kRuleDiversity = 2,       // it was passed over at least once for a category or creator limit
  kRuleExplore = 4,         // it fills the exploration slot
  kRuleDiversityRelaxed = 8,  // taken although it breaks a limit (nothing else fitted)
};

struct RerankedItem {
  uint32_t index = 0;       // into the input span
  float score = 0;          // after the freshness boost
  float propensity = 1;     // probability the policy put a video in this slot the way it did
  uint8_t rules = 0;
};

// Picks up to `count` items from `items` into `out` (cleared first). `seed` drives the
// exploration draw (the server passes the request id, so a request is reproducible).
// Propensity: 1 for slots before the exploration slot; explore_rate / pool size for an
// explored video; 1 - explore_rate for later slots of a feed without exploration and
// explore_rate for slots that exploration shifted down.
void Rerank(absl::Span<const RerankInput> items, size_t count, TimestampMs now_ms, const RerankOptions& options,
            uint64_t seed, std::vector<RerankedItem>* out);

}  // namespace vrec::ranking

#endif  // VREC_RANKING_RERANKER_H_
