#include "retrieval/candidates.h"

#include <algorithm>
#include <cmath>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace vrec {
namespace {

// Reciprocal-rank fusion constant (Cormack et al.): ranks deep in one list still count.
constexpr float kFusionK = 60.0f;
// HNSW beam width of item-to-item searches.
constexpr int kItemToItemEf = 64;

bool Skipped(const RetrievalQuery& query, VideoId v) {
  return std::binary_search(query.skip.begin(), query.skip.end(), v);
}

class TwoTowerSource : public CandidateSource {
 public:
  explicit TwoTowerSource(const VectorIndex* index) : index_(index) {}
  SourceId id() const override { return kSourceTwoTower; }
  absl::Status Generate(const RetrievalQuery& query, size_t n, std::vector<ScoredVideo>* out) const override {
    if (query.user_embedding == nullptr) return absl::FailedPreconditionError("no user embedding");
    thread_local std::vector<ScoredVideo> found;
    index_->Search(query.user_embedding, static_cast<int>(n + query.skip.size()), &found);
    size_t added = 0;
    for (const ScoredVideo& s : found) {
      if (added == n) break;
      if (Skipped(query, s.video)) continue;
      out->push_back(s);
      ++added;
    }
    return absl::OkStatus();
  }

 private:
  const VectorIndex* index_;
};

class ItemToItemSource : public CandidateSource {
 public:
  ItemToItemSource(const VectorIndex* index, int seeds) : index_(index), seeds_(std::max(1, seeds)) {}
  SourceId id() const override { return kSourceItemToItem; }
  absl::Status Generate(const RetrievalQuery& query, size_t n, std::vector<ScoredVideo>* out) const override {
    thread_local std::vector<float> seeds;  // row-major, one embedding per seed
    thread_local std::vector<std::vector<ScoredVideo>> neighbours;
    seeds.clear();
    const int dim = index_->dim();
    const std::vector<HistoryEntry>& history = query.user->history;
    size_t seed_count = 0;
    for (auto it = history.rbegin(); it != history.rend() && static_cast<int>(seed_count) < seeds_; ++it) {
      if (!IsEngagedEntry(*it)) continue;
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

class TrendingSource : public CandidateSource {
 public:
  TrendingSource(std::shared_ptr<const Trending> trending, SourceId id) : trending_(std::move(trending)), id_(id) {}
  SourceId id() const override { return id_; }
  absl::Status Generate(const RetrievalQuery& query, size_t n, std::vector<ScoredVideo>* out) const override {
    thread_local std::vector<VideoId> top;
    top.clear();
    trending_->Top(n, query.skip, &top);
    for (VideoId v : top) out->push_back({v, trending_->count(v)});
    return absl::OkStatus();
  }

 private:
  std::shared_ptr<const Trending> trending_;
  SourceId id_;
};

class FreshSource : public CandidateSource {
 public:
  FreshSource(std::shared_ptr<const std::vector<FreshVideo>> fresh, TimestampMs window_ms, size_t pool,
              const VectorIndex* index)
      : fresh_(std::move(fresh)), window_ms_(window_ms), pool_(pool), index_(index) {
    // Each fresh video's embedding, copied once per model into one contiguous block in the
    // fresh list's order: a request reads thousands of them, and rows scattered over a
    // million-video index cost a cache miss each.
    if (index_ != nullptr) {
      const int dim = index_->dim();
      packed_.assign(fresh_->size() * dim, 0.0f);
      indexed_.assign(fresh_->size(), 0);
      for (size_t i = 0; i < fresh_->size(); ++i) {
        if (const float* e = index_->Embedding((*fresh_)[i].video); e != nullptr) {
          std::copy(e, e + dim, packed_.begin() + i * dim);
          indexed_[i] = 1;
        }
      }
    }
  }
  SourceId id() const override { return kSourceFresh; }
  absl::Status Generate(const RetrievalQuery& query, size_t n, std::vector<ScoredVideo>* out) const override {
    const TimestampMs now = query.context.now_ms;
    const size_t start = out->size();
    size_t considered = 0;
    for (size_t i = 0; i < fresh_->size(); ++i) {
      const FreshVideo& f = (*fresh_)[i];
      if (f.upload_ms >= now) continue;  // not uploaded yet as of the request
      if (f.upload_ms < now - window_ms_ || considered == pool_) break;
      ++considered;
      if (Skipped(query, f.video)) continue;
      // Newest first (score in (0, 1]); with a model, by the user's affinity instead, and a
      // video newer than the index after every indexed one.
      float score = 1.0f - static_cast<float>(now - f.upload_ms) / static_cast<float>(window_ms_ + 1);
      if (query.user_embedding != nullptr && index_ != nullptr && indexed_[i]) {
        score = 2.0f + InnerProduct(query.user_embedding, packed_.data() + i * index_->dim(), index_->dim());
      }
      out->push_back({f.video, score});
    }
    KeepBest(start, n, out);
    return absl::OkStatus();
  }

 private:
  std::shared_ptr<const std::vector<FreshVideo>> fresh_;
  TimestampMs window_ms_;
  size_t pool_;
  const VectorIndex* index_;
  std::vector<float> packed_;     // row i: the embedding of (*fresh_)[i] (zeros when not indexed)
  std::vector<uint8_t> indexed_;  // aligned with *fresh_
};

}  // namespace

void KeepBest(size_t start, size_t n, std::vector<ScoredVideo>* list) {
  std::sort(list->begin() + start, list->end(), [](const ScoredVideo& a, const ScoredVideo& b) {
    return a.score != b.score ? a.score > b.score : a.video < b.video;
  });
  if (list->size() - start > n) list->resize(start + n);
}

const char* SourceName(SourceId source) {
  switch (source) {
    case kSourceTwoTower:
      return "two_tower";
    case kSourceItemToItem:
      return "item_to_item";
    case kSourceTrending:
      return "trending";
    case kSourceFresh:
      return "fresh";
    case kSourcePopular:
      return "popular";
    case kNumSources:
      break;
  }
  return "unknown";
}

absl::Status ParseQuotas(absl::string_view spec, RetrieverOptions* options) {
  for (absl::string_view entry : absl::StrSplit(spec, ',', absl::SkipEmpty())) {
    const std::pair<absl::string_view, absl::string_view> kv = absl::StrSplit(entry, absl::MaxSplits(':', 1));
    int source = 0;
    while (source < kNumSources && kv.first != SourceName(static_cast<SourceId>(source))) ++source;
    uint32_t quota = 0;
    if (source == kNumSources || !absl::SimpleAtoi(kv.second, &quota) || quota > 10000) {
      return absl::InvalidArgumentError(absl::StrCat(
          "bad quota '", entry, "': want source:count with count in [0, 10000] and source one of two_tower, "
          "item_to_item, trending, fresh, popular"));
    }
    options->quota[source] = quota;
  }
  return absl::OkStatus();
}

std::unique_ptr<CandidateSource> MakeTwoTowerSource(const VectorIndex* index) {
  return std::make_unique<TwoTowerSource>(index);
}
std::unique_ptr<CandidateSource> MakeItemToItemSource(const VectorIndex* index, int seeds) {
  return std::make_unique<ItemToItemSource>(index, seeds);
}
std::unique_ptr<CandidateSource> MakeTrendingSource(std::shared_ptr<const Trending> trending, SourceId id) {
  return std::make_unique<TrendingSource>(std::move(trending), id);
}
std::unique_ptr<CandidateSource> MakeFreshSource(std::shared_ptr<const std::vector<FreshVideo>> fresh,
                                                 TimestampMs window_ms, size_t pool, const VectorIndex* index) {
  return std::make_unique<FreshSource>(std::move(fresh), window_ms, pool, index);
}

Retriever::Retriever(const RetrieverOptions& options, std::shared_ptr<const TwoTowerModel> model,
                     std::shared_ptr<const VectorIndex> index, std::vector<std::unique_ptr<CandidateSource>> sources)
    : options_(options), model_(std::move(model)), index_(std::move(index)), sources_(std::move(sources)) {}

void Retriever::Retrieve(const UserFeatures& user, const FeatureContext& context, absl::Span<const VideoId> skip,
                         RetrievalResult* out) const {
  out->candidates.clear();
  out->failures.clear();
  out->user_embedding.clear();
  out->produced.fill(0);
  RetrievalQuery query{&user, context, skip, nullptr};
  if (has_model()) {
    const UserInputs inputs = TransformUser(user, context, model_->config().transform);
    out->user_embedding.resize(model_->dim());
    if (absl::Status s = model_->EmbedUsers(absl::MakeConstSpan(&inputs, 1), out->user_embedding.data()); s.ok()) {
      query.user_embedding = out->user_embedding.data();
    } else {
      out->user_embedding.clear();
      out->failures.push_back({kSourceTwoTower, s});
    }
  }
  thread_local absl::flat_hash_map<VideoId, uint32_t> slot;  // video -> position in candidates
  thread_local std::vector<ScoredVideo> generated;
  slot.clear();
  for (const std::unique_ptr<CandidateSource>& source : sources_) {
    const SourceId id = source->id();
    const uint32_t quota = options_.quota[id];
    if (quota == 0) continue;
    if (id == kSourceTwoTower && query.user_embedding == nullptr) continue;  // failure recorded above
    generated.clear();
    absl::Status s;
    try {
      s = source->Generate(query, quota, &generated);
    } catch (const std::exception& e) {
      s = absl::InternalError(absl::StrCat(SourceName(id), " threw: ", e.what()));
    }
    if (!s.ok()) {  // a failed source's partial output is not used
      out->failures.push_back({id, s});
      continue;
    }
    out->produced[id] = static_cast<uint32_t>(generated.size());
    for (size_t r = 0; r < generated.size(); ++r) {
      const ScoredVideo& g = generated[r];
      auto [it, inserted] = slot.try_emplace(g.video, static_cast<uint32_t>(out->candidates.size()));
      if (inserted) out->candidates.push_back(Candidate{g.video});
      Candidate& c = out->candidates[it->second];
      c.sources |= uint8_t{1} << id;
      c.source_score[id] = g.score;
      c.source_rank[id] = static_cast<uint16_t>(std::min<size_t>(r + 1, UINT16_MAX));
    }
  }
  // Retrieval score: the inner product where the video is indexed and a user embedding
  // exists; otherwise rank fusion, placed below every inner product (which is >= -1).
  for (Candidate& c : out->candidates) {
    const float* e = query.user_embedding != nullptr ? index_->Embedding(c.video) : nullptr;
    if (e != nullptr) {
      c.score = InnerProduct(query.user_embedding, e, index_->dim());
      c.embedded = true;
      continue;
    }
    float fused = 0.0f;
    for (int s = 0; s < kNumSources; ++s) {
      if (c.source_rank[s] > 0) fused += 1.0f / (kFusionK + c.source_rank[s]);
    }
    c.score = query.user_embedding != nullptr ? fused - 2.0f : fused;
  }
  std::sort(out->candidates.begin(), out->candidates.end(), [](const Candidate& a, const Candidate& b) {
    return a.score != b.score ? a.score > b.score : a.video < b.video;
  });
}

}  // namespace vrec
