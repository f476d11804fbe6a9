#include "common/metrics.h"

#include <algorithm>
#include <cmath>

namespace vrec {

RankingMetrics ScoreRanking(absl::Span<const VideoId> ranked, const Relevance& relevance, int k) {
  RankingMetrics m;
  if (relevance.empty() || k <= 0) return m;
  const size_t depth = std::min<size_t>(ranked.size(), static_cast<size_t>(k));
  double dcg = 0.0, precision_sum = 0.0;
  int hits = 0;
  for (size_t i = 0; i < depth; ++i) {
    auto it = std::lower_bound(relevance.begin(), relevance.end(), std::make_pair(ranked[i], 0));
    if (it == relevance.end() || it->first != ranked[i]) continue;
    ++hits;
    dcg += (std::pow(2.0, it->second) - 1.0) / std::log2(i + 2.0);
    precision_sum += static_cast<double>(hits) / (i + 1.0);
  }
  std::vector<int> grades;
  grades.reserve(relevance.size());
  for (const auto& [video, grade] : relevance) grades.push_back(grade);
  std::sort(grades.rbegin(), grades.rend());
  double ideal = 0.0;
  for (size_t i = 0; i < grades.size() && i < static_cast<size_t>(k); ++i) {
    ideal += (std::pow(2.0, grades[i]) - 1.0) / std::log2(i + 2.0);
  }
  m.ndcg = ideal > 0 ? dcg / ideal : 0.0;
  m.recall = static_cast<double>(hits) / relevance.size();
  m.hit = hits > 0 ? 1.0 : 0.0;
  m.ap = precision_sum / std::min<size_t>(relevance.size(), static_cast<size_t>(k));
  return m;
}

void MetricsAccumulator::Add(const RankingMetrics& m) {
  sum_.ndcg += m.ndcg;
  sum_.recall += m.recall;
  sum_.hit += m.hit;
  sum_.ap += m.ap;
  ++count_;
}

void MetricsAccumulator::Merge(const MetricsAccumulator& other) {
  sum_.ndcg += other.sum_.ndcg;
  sum_.recall += other.sum_.recall;
  sum_.hit += other.sum_.hit;
  sum_.ap += other.sum_.ap;
  count_ += other.count_;
}

RankingMetrics MetricsAccumulator::Mean() const {
  if (count_ == 0) return {};
  const double n = static_cast<double>(count_);
  return {sum_.ndcg / n, sum_.recall / n, sum_.hit / n, sum_.ap / n};
}

double Auc(absl::Span<const float> scores, absl::Span<const uint8_t> labels) {
  std::vector<uint32_t> order(scores.size());
  for (uint32_t i = 0; i < order.size(); ++i) order[i] = i;
  std::sort(order.begin(), order.end(), [&](uint32_t a, uint32_t b) { return scores[a] < scores[b]; });
  // Mann-Whitney U: sum of the positives' (tie-averaged) ranks.
  double positive_rank_sum = 0, positives = 0;
  for (size_t i = 0; i < order.size();) {
    size_t j = i;
    while (j < order.size() && scores[order[j]] == scores[order[i]]) ++j;
    const double rank = 0.5 * (i + 1 + j);  // mean of ranks i+1..j
    for (size_t t = i; t < j; ++t) {
      if (labels[order[t]]) {
        positive_rank_sum += rank;
        positives += 1;
      }
    }
    i = j;
  }
  const double negatives = static_cast<double>(scores.size()) - positives;
  if (positives == 0 || negatives == 0) return 0.5;
  return (positive_rank_sum - positives * (positives + 1) / 2) / (positives * negatives);
}

double LogLoss(absl::Span<const float> probabilities, absl::Span<const uint8_t> labels) {
  if (probabilities.empty()) return 0.0;
  double sum = 0;
  for (size_t i = 0; i < probabilities.size(); ++i) {
    const double p = std::clamp(static_cast<double>(probabilities[i]), 1e-7, 1.0 - 1e-7);
    sum -= labels[i] ? std::log(p) : std::log(1.0 - p);
  }
  return sum / probabilities.size();
}

}  // namespace vrec
