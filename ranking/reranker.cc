#include "ranking/reranker.h"

#include <algorithm>
#include <cmath>

#include "common/random.h"

namespace vrec::ranking {

RerankOptions WithRules(RerankOptions options, const RuleChoice& choice) {
  if (!choice.diversity) {
    options.max_same_category = 0;
    options.max_same_creator = 0;
  }
  if (!choice.freshness_boost) options.freshness_boost = 0;
  if (!choice.exploration) options.explore_rate = 0;
  return options;
}

absl::Status RerankOptions::Validate() const {
  if (!(freshness_boost >= 0) || freshness_window_ms <= 0) {
    return absl::InvalidArgumentError("freshness boost must be >= 0 and its window positive");
  }
  if (diversity_window < 1 || max_same_category < 0 || max_same_creator < 0) {
    return absl::InvalidArgumentError("diversity window must be >= 1 and the limits >= 0");
  }
  if (!(explore_rate >= 0 && explore_rate <= 1) || explore_position < 0 || explore_pool < 1) {
    return absl::InvalidArgumentError("explore rate must be in [0, 1], position >= 0 and pool >= 1");
  }
  return absl::OkStatus();
}

void Rerank(absl::Span<const RerankInput> items, size_t count, TimestampMs now_ms, const RerankOptions& o,
            uint64_t seed, std::vector<RerankedItem>* out) {
  out->clear();
  thread_local std::vector<RerankedItem> order;
  order.clear();
  for (uint32_t i = 0; i < items.size(); ++i) {
    const RerankInput& in = items[i];
    RerankedItem r;
    r.index = i;
    r.score = in.score;
    if (o.freshness_boost > 0 && in.upload_ms > 0 && in.upload_ms <= now_ms) {
      const double age = static_cast<double>(now_ms - in.upload_ms);
      const float factor = 1.0f + o.freshness_boost * static_cast<float>(std::exp(-age / o.freshness_window_ms));
      if (factor > 1.0001f) {
        r.score *= factor;
        r.rules |= kRuleFreshnessBoost;
      }
    }
    order.push_back(r);
  }
  std::stable_sort(order.begin(), order.end(),
                   [](const RerankedItem& a, const RerankedItem& b) { return a.score > b.score; });

  // Greedy fill under the sliding-window limits.
  const size_t n = std::min(count, order.size());
  thread_local std::vector<bool> used;
  used.assign(order.size(), false);
  auto fits = [&](const RerankInput& in) {
    const size_t from = out->size() >= static_cast<size_t>(o.diversity_window - 1)
                            ? out->size() - (o.diversity_window - 1)
                            : 0;
    int same_category = 0, same_creator = 0;
    for (size_t j = from; j < out->size(); ++j) {
      const RerankInput& prev = items[(*out)[j].index];
      same_category += in.category != 0 && prev.category == in.category;
      same_creator += in.creator != kInvalidId && prev.creator == in.creator;
    }
    return (o.max_same_category == 0 || same_category < o.max_same_category) &&
           (o.max_same_creator == 0 || same_creator < o.max_same_creator);
  };
  size_t first_unused = 0;
  while (out->size() < n) {
    while (first_unused < order.size() && used[first_unused]) ++first_unused;
    size_t pick = order.size();
    for (size_t j = first_unused; j < order.size(); ++j) {
      if (used[j]) continue;
      if (fits(items[order[j].index])) {
        pick = j;
        break;
      }
      order[j].rules |= kRuleDiversity;
    }
    if (pick == order.size()) {
      pick = first_unused;
      order[pick].rules |= kRuleDiversityRelaxed;
    }
    used[pick] = true;
    out->push_back(order[pick]);
  }

  // Exploration.
  if (o.explore_rate <= 0 || static_cast<size_t>(o.explore_position) >= n) return;
  thread_local std::vector<size_t> pool;
  pool.clear();
  for (size_t j = 0; j < order.size() && pool.size() < static_cast<size_t>(o.explore_pool); ++j) {
    if (!used[j] && items[order[j].index].fresh) pool.push_back(j);
  }
  if (pool.empty()) return;  // nothing to explore with: the slate is deterministic
  Rng rng(SplitMix64(seed));
  const bool explore = rng.Bernoulli(o.explore_rate);
  for (size_t p = o.explore_position; p < out->size(); ++p) {
    (*out)[p].propensity = static_cast<float>(explore ? o.explore_rate : 1.0 - o.explore_rate);
  }
  if (!explore) return;
  RerankedItem chosen = order[pool[rng.UniformInt(pool.size())]];
  chosen.rules |= kRuleExplore;
  chosen.propensity = static_cast<float>(o.explore_rate / pool.size());
  out->insert(out->begin() + o.explore_position, chosen);
  out->pop_back();
}

}  // namespace vrec::ranking
