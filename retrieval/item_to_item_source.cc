// The item-to-item source: index neighbours of the user's last engaged videos.
#include "retrieval/candidates.h"

#include <algorithm>

#include "absl/container/flat_hash_map.h"

namespace vrec::retrieval {
namespace {

// HNSW beam width of item-to-item searches.
constexpr int kItemToItemEf = 64;

class ItemToItemSource : public CandidateSource {
 public:
  ItemToItemSource(const VectorIndex* index, int seeds) : index_(index), seeds_(std::max(1, seeds)) {}
  SourceId id() const override { return kSourceItemToItem; }
  absl::Status Generate(const RetrievalQuery& query, size_t n, std::vector<ScoredVideo>* out) const override {
    thread_local std::vector<float> seeds;  // row-major, one embedding per seed
    thread_local std::vector<std::vector<ScoredVideo>> neighbours;
    seeds.clear();
    const int dim = index_->dim();
    const std::vector<featurestore::HistoryEntry>& history = query.user->history;
    size_t seed_count = 0;
    for (auto it = history.rbegin(); it != history.rend() && static_cast<int>(seed_count) < seeds_; ++it) {
      if (!featurestore::IsEngagedEntry(*it)) continue;
      if (const float* e = index_->Embedding(it->video_id); e != nullptr) {
        seeds.insert(seeds.end(), e, e + dim);
        ++seed_count;
      }
    }
    if (seed_count == 0 || n == 0) return absl::OkStatus();
    // Each seed's neighbours, all seeds in one batch; a video reached from several seeds keeps
    // its best similarity. Video-to-video queries lie on the item manifold: a narrow beam finds
    // their neighbours.
    const size_t per_seed = (n + seed_count - 1) / seed_count + 4;
    index_->SearchBatch(seeds, static_cast<int>(per_seed + query.skip.size() + 1), &neighbours, kItemToItemEf);
    absl::flat_hash_map<VideoId, float> best;
    for (const std::vector<ScoredVideo>& found : neighbours) {
      size_t added = 0;
      for (const ScoredVideo& s : found) {
        if (added == per_seed) break;
        if (Skipped(query, s.video)) continue;
        auto [slot, inserted] = best.try_emplace(s.video, s.score);
        if (!inserted) slot->second = std::max(slot->second, s.score);
        ++added;
      }
    }
    const size_t start = out->size();
    for (const auto& [video, score] : best) out->push_back({video, score});
    KeepBest(start, n, out);
    return absl::OkStatus();
  }

 private:
  const VectorIndex* index_;
  int seeds_;
};

}  // namespace

std::unique_ptr<CandidateSource> MakeItemToItemSource(const VectorIndex* index, int seeds) {
  return std::make_unique<ItemToItemSource>(index, seeds);
}
}  // namespace vrec::retrieval
