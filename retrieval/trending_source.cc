// The trending and popular sources: the best-ranked videos of a popularity list.
#include "retrieval/candidates.h"

namespace vrec::retrieval {
namespace {

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

}  // namespace

std::unique_ptr<CandidateSource> MakeTrendingSource(std::shared_ptr<const Trending> trending, SourceId id) {
  return std::make_unique<TrendingSource>(std::move(trending), id);
}
}  // namespace vrec::retrieval
