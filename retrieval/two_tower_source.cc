// The two-tower source: the user tower's embedding searched in the item index.
#include "retrieval/candidates.h"

namespace vrec::retrieval {
namespace {

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

}  // namespace

std::unique_ptr<CandidateSource> MakeTwoTowerSource(const VectorIndex* index) {
  return std::make_unique<TwoTowerSource>(index);
}
}  // namespace vrec::retrieval
