// The fresh source: recent uploads, by the user's affinity when a model is loaded.
#include "retrieval/candidates.h"

namespace vrec::retrieval {
namespace {

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

std::unique_ptr<CandidateSource> MakeFreshSource(std::shared_ptr<const std::vector<FreshVideo>> fresh,
                                                 TimestampMs window_ms, size_t pool, const VectorIndex* index) {
  return std::make_unique<FreshSource>(std::move(fresh), window_ms, pool, index);
}
}  // namespace vrec::retrieval
