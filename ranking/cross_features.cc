#include "ranking/cross_features.h"

#include <algorithm>
#include <cmath>

namespace vrec {

void CatalogHistoryCreators(const UserFeatures& user, const Catalog& catalog, std::vector<CreatorId>* out) {
  out->clear();
  for (const HistoryEntry& h : user.history) {
    const Video* video = catalog.FindVideo(h.video_id);
    out->push_back(video != nullptr ? video->creator_id : kInvalidId);
  }
}

UserCrossContext::UserCrossContext(const UserFeatures& user, absl::Span<const CreatorId> history_creators) {
  affinity_.reserve(user.affinity.size());
  for (const CategoryAffinity& a : user.affinity) {
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
  language_ = CategoryHash(user.language);
}

CrossInputs UserCrossContext::Make(const VideoFeatures& video, float retrieval_score, bool has_retrieval_score) const {
  CrossInputs c;
  const uint32_t category = CategoryHash(video.category);
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
  c.dense[kCrossRetrievalScore] = has_retrieval_score ? retrieval_score : 0.0f;
  c.dense[kCrossHasRetrievalScore] = has_retrieval_score ? 1.0f : 0.0f;
  const uint32_t language = CategoryHash(video.language);
  c.dense[kCrossLanguageMatch] = (language == 0 || language_ == 0) ? 0.5f : (language == language_ ? 1.0f : 0.0f);
  return c;
}

}  // namespace vrec
