// The collaborative sources (item_knn, ease, transitions): the best videos for the user's
// engaged videos under the bundle's collaborative tables (retrieval/collaborative.h).
#include "retrieval/candidates.h"
#include "retrieval/collaborative.h"

namespace vrec::retrieval {
namespace {

int TableOf(SourceId id) {
  switch (id) {
    case kSourceItemKnn: return kCollabItemKnn;
    case kSourceEase: return kCollabEase;
    default: return kCollabTransitions;
  }
}

class CollaborativeSource : public CandidateSource {
 public:
  CollaborativeSource(std::shared_ptr<const CollaborativeModel> model, SourceId id)
      : model_(std::move(model)), id_(id), table_(TableOf(id)) {}
  SourceId id() const override { return id_; }
  absl::Status Generate(const RetrievalQuery& query, size_t n, std::vector<ScoredVideo>* out) const override {
    thread_local std::vector<ScoredVideo> input;
    CollabInput(table_, query.engaged, &input);
    if (table_ == kCollabEase && !model_->ease_dense.empty()) {
      DenseEaseScore(model_->ease_dense, input, query.skip, n, out);
    } else {
      CollabScore(model_->tables[table_], input, query.skip, n, out);
    }
    return absl::OkStatus();
  }

 private:
  std::shared_ptr<const CollaborativeModel> model_;
  SourceId id_;
  int table_;
};

}  // namespace

std::unique_ptr<CandidateSource> MakeCollaborativeSource(std::shared_ptr<const CollaborativeModel> model,
                                                         SourceId id) {
  return std::make_unique<CollaborativeSource>(std::move(model), id);
}

}  // namespace vrec::retrieval
