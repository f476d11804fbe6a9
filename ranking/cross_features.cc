#include "ranking/cross_features.h"

#include <algorithm>
#include <cmath>

namespace vrec::ranking {

void CatalogHistoryCreators(const featurestore::UserFeatures& user, const Catalog& catalog,
                            std::vector<CreatorId>* out) {
  out->clear();
  for (const featurestore::HistoryEntry& h : user.history) {
    const Video* video = catalog.FindVideo(h.video_id);
    out->push_back(video != nullptr ? video->creator_id : kInvalidId);
  }
}

void EngagedSeeds(const featurestore::UserFeatures& user, std::vector<VideoId>* out) {
  out->clear();
  for (auto it = user.history.rbegin(); it != user.history.rend() && out->size() < kCrossSeeds; ++it) {
    if (featurestore::IsEngagedEntry(*it)) out->push_back(it->video_id);
  }
}

bool ItemToItemScore(absl::Span<const float* const> seeds, const float* embedding, int dim, float* score) {
  if (embedding == nullptr) return false;
  bool any = false;
  float best = 0;
  for (const float* seed : seeds) {
    if (seed == nullptr) continue;
    float dot = 0;
    for (int d = 0; d < dim; ++d) dot += seed[d] * embedding[d];
    best = any ? std::max(best, dot) : dot;
    any = true;
  }
  if (any) *score = best;
  return any;
}

void CrossInputs::SetRetrievalScore(float score, bool known) {
  dense[kCrossRetrievalScore] = known ? score : 0.0f;
  dense[kCrossHasRetrievalScore] = known ? 1.0f : 0.0f;
}

void CrossInputs::SetItemToItem(float score, bool known) {
  dense[kCrossItemToItem] = known ? score : 0.0f;
  dense[kCrossHasItemToItem] = known ? 1.0f : 0.0f;
}

namespace {

float RankSignal(uint32_t rank) {
  static const float kLogCap = std::log(1.0f + kCrossRankCap);
  return rank == 0 || rank > kCrossRankCap ? 0.0f : 1.0f - std::log(static_cast<float>(rank)) / kLogCap;
}

}  // namespace

UserCrossContext::UserCrossContext(const featurestore::UserFeatures& user,
                                   absl::Span<const CreatorId> history_creators) {
  affinity_.reserve(user.affinity.size());
  for (const featurestore::CategoryAffinity& a : user.affinity) {
    affinity_.emplace_back(a.category, a.week);
    affinity_total_ += a.week;
  }
  std::vector<std::pair<uint32_t, float>> sorted = affinity_;
  std::sort(sorted.begin(), sorted.end(), [](const auto& a, const auto& b) {
    return a.second != b.second ? a.second > b.second : a.first < b.first;
  });
  for (size_t i = 0; i < top_categories_.size() && i < sorted.size(); ++i) {
    if (sorted[i].second > 0) top_categories_[i] = sorted[i].first;
  }
  history_size_ = static_cast<float>(user.history.size());
  for (size_t i = 0; i < history_creators.size() && i < user.history.size(); ++i) {
    if (history_creators[i] == kInvalidId) continue;
    CreatorStats& s = creators_[history_creators[i]];
    ++s.count;
    s.watch_sum += user.history[i].watch_ratio;
  }
  language_ = featurestore::CategoryHash(user.language);
}

CrossInputs UserCrossContext::Make(const featurestore::VideoFeatures& video, TimestampMs now_ms,
                                   const SourceSignals& signals) const {
  CrossInputs c;
  const uint32_t category = featurestore::CategoryHash(video.category);
  if (category != 0) {
    for (const auto& [hash, week] : affinity_) {
      if (hash == category && affinity_total_ > 0) c.dense[kCrossCategoryShare] = week / affinity_total_;
    }
    for (size_t i = 0; i < top_categories_.size(); ++i) {
      if (top_categories_[i] == category) c.dense[kCrossCategoryRank] = 1.0f / (1.0f + i);
    }
  }
  if (video.creator_id != kInvalidId) {
    if (const auto it = creators_.find(video.creator_id); it != creators_.end()) {
      c.dense[kCrossCreatorCount] = std::log1p(static_cast<float>(it->second.count));
      c.dense[kCrossCreatorShare] = it->second.count / std::max(1.0f, history_size_);
      c.dense[kCrossCreatorWatch] = it->second.watch_sum / it->second.count;
    }
  }
  c.SetRetrievalScore(signals.retrieval_score, signals.has_retrieval_score);
  c.SetItemToItem(signals.item_to_item, signals.has_item_to_item);
  c.dense[kCrossTrendingRank] = RankSignal(signals.trending_rank);
  c.dense[kCrossPopularRank] = RankSignal(signals.popular_rank);
  const TimestampMs age = now_ms - video.upload_ms;
  if (video.known && age >= 0 && age < kCrossFreshWindowMs) {
    c.dense[kCrossFresh] = 1.0f - static_cast<float>(age) / static_cast<float>(kCrossFreshWindowMs);
  }
  const uint32_t language = featurestore::CategoryHash(video.language);
  c.dense[kCrossLanguageMatch] = (language == 0 || language_ == 0) ? 0.5f : (language == language_ ? 1.0f : 0.0f);
  return c;
}

}  // namespace vrec::ranking
