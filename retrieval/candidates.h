// Candidate generation: several sources behind one interface, merged with per-source quotas
// into one deduplicated list in which every candidate keeps the sources that produced it.
//
//   two-tower      user tower forward, then an HNSW search of the item index
//   item-to-item   index neighbours of the user's last engaged videos
//   trending       decayed recent engagement (retrieval/trending.h)
//   fresh          recent uploads, ordered by the user's affinity when a model is loaded,
//                  else newest first (new videos get exposure before they have counts)
//   popular        all-time popularity; fills the list when everything else is thin
//   item_knn       co-engagement neighbours of the user's engaged videos  } the bundle's
//   ease           EASE item-item weights from the user's engaged videos  } collaborative tables
//   transitions    what followed the user's last engaged videos           } (collaborative.h)
//
// A failing source never fails the request: its error is reported in the result (the feed
// says `degraded`) and the other sources still answer. Until the ranker lands, candidates are
// ordered by retrieval score: the two-tower inner product with the user embedding where the
// video is indexed, else (no model, or a video newer than the index) after all indexed ones
// by reciprocal-rank fusion of the source ranks.
#ifndef VREC_RETRIEVAL_CANDIDATES_H_
#define VREC_RETRIEVAL_CANDIDATES_H_

#include <algorithm>
#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "common/types.h"
#include "featurestore/features.h"
#include "featurestore/transforms.h"
#include "retrieval/vector_index.h"
#include "retrieval/trending.h"
#include "retrieval/two_tower.h"

namespace vrec::retrieval {

// The candidate sources. Adding one: an id here, its row in kSources, a file with its
// CandidateSource (<name>_source.cc, declaring its Make* factory below), and its factory call in
// MakeFeedModel (pipeline/recommender.cc). Its quota flag, metrics label and debug output
// follow from the row.
enum SourceId : uint8_t {
  kSourceTwoTower = 0,
  kSourceItemToItem,
  kSourceTrending,
  kSourceFresh,
  kSourcePopular,
  kSourceItemKnn,
  kSourceEase,
  kSourceTransitions,
  kNumSources  // at most 8: Candidate::sources is a byte
};

struct SourceInfo {
  const char* name;        // in --quotas, metrics labels, `sources` of a feed item
  uint32_t default_quota;  // candidates asked of it per request
};
inline constexpr SourceInfo kSources[kNumSources] = {
    {"two_tower", 300}, {"item_to_item", 100}, {"trending", 100}, {"fresh", 50}, {"popular", 50},
    {"item_knn", 100},  {"ease", 200},         {"transitions", 50},
};
const char* SourceName(SourceId source);
// The source named `name` (as SourceName gives it); InvalidArgument for any other name.
absl::StatusOr<SourceId> ParseSourceName(absl::string_view name);

// What the sources know about one request.
struct RetrievalQuery {
  const featurestore::UserFeatures* user = nullptr;  // never null; an unknown user has empty features
  featurestore::FeatureContext context;
  absl::Span<const VideoId> skip;       // sorted: never returned (seen, excluded)
  const float* user_embedding = nullptr;  // the user tower's output, when a model is loaded
  absl::Span<const VideoId> engaged;      // the user's engaged videos (featurestore::EngagedVideos)
};

// Whether `video` is in the query's sorted skip list.
inline bool Skipped(const RetrievalQuery& query, VideoId video) {
  return std::binary_search(query.skip.begin(), query.skip.end(), video);
}

class CandidateSource {
 public:
  virtual ~CandidateSource() = default;
  virtual SourceId id() const = 0;
  // Appends up to n candidates, best first, none in query.skip, with a source-specific
  // score (higher is better).
  virtual absl::Status Generate(const RetrievalQuery& query, size_t n, std::vector<ScoredVideo>* out) const = 0;
};

// A recent upload.
struct FreshVideo {
  VideoId video = 0;
  TimestampMs upload_ms = 0;
};

// Index-backed sources (the index must outlive them; the bundle keeps both alive).
std::unique_ptr<CandidateSource> MakeTwoTowerSource(const VectorIndex* index);
// `seeds`: how many of the last engaged videos to expand.
std::unique_ptr<CandidateSource> MakeItemToItemSource(const VectorIndex* index, int seeds);
struct CollaborativeModel;
// kSourceItemKnn, kSourceEase or kSourceTransitions over the bundle's collaborative tables.
std::unique_ptr<CandidateSource> MakeCollaborativeSource(std::shared_ptr<const CollaborativeModel> model,
                                                         SourceId id);
// Popularity-backed sources; the shared data is immutable.
std::unique_ptr<CandidateSource> MakeTrendingSource(std::shared_ptr<const Trending> trending, SourceId id);
// `fresh`: newest first. Videos uploaded within `window_ms` before the request qualify; at most
// `pool` of them are considered. `index` (may be null) gives embeddings for personal order.
std::unique_ptr<CandidateSource> MakeFreshSource(std::shared_ptr<const std::vector<FreshVideo>> fresh,
                                                 TimestampMs window_ms, size_t pool, const VectorIndex* index);

struct Candidate {
  VideoId video = 0;
  uint8_t sources = 0;                       // bit (1 << SourceId) per source
  float score = 0;                           // retrieval score (see the top of this file)
  bool embedded = false;                     // score is the two-tower inner product
  std::array<float, kNumSources> source_score{};  // each source's own score (0 if absent)
  std::array<uint16_t, kNumSources> source_rank{};  // 1-based rank in each source (0 if absent)

  bool from(SourceId s) const { return (sources >> s) & 1; }
};

struct SourceFailure {
  SourceId source;
  absl::Status status;
};

struct RetrievalResult {
  std::vector<Candidate> candidates;  // best first
  std::vector<SourceFailure> failures;
  std::vector<float> user_embedding;  // empty without a model
  std::array<uint32_t, kNumSources> produced{};  // candidates each source returned
};

struct RetrieverOptions {
  // Candidates requested from each source (0 disables it). Defaults: kSources.
  std::array<uint32_t, kNumSources> quota = DefaultQuotas();

  static constexpr std::array<uint32_t, kNumSources> DefaultQuotas() {
    std::array<uint32_t, kNumSources> q{};
    for (int s = 0; s < kNumSources; ++s) q[s] = kSources[s].default_quota;
    return q;
  }
};

// Parses "two_tower:300,trending:100,..." (any subset; the rest keep their values) into
// options->quota. InvalidArgument naming the bad entry.
absl::Status ParseQuotas(absl::string_view spec, RetrieverOptions* options);

// Thread-safe and immutable. The model and index (both optional: without them only the
// popularity-backed sources run) are shared with the sources.
class Retriever {
 public:
  Retriever(const RetrieverOptions& options, std::shared_ptr<const TwoTowerModel> model,
            std::shared_ptr<const VectorIndex> index, std::vector<std::unique_ptr<CandidateSource>> sources);

  void Retrieve(const featurestore::UserFeatures& user, const featurestore::FeatureContext& context,
                absl::Span<const VideoId> skip, RetrievalResult* out) const;

  const RetrieverOptions& options() const { return options_; }
  bool has_model() const { return model_ != nullptr && index_ != nullptr; }
  const VectorIndex* index() const { return index_.get(); }

 private:
  RetrieverOptions options_;
  std::shared_ptr<const TwoTowerModel> model_;
  std::shared_ptr<const VectorIndex> index_;
  std::vector<std::unique_ptr<CandidateSource>> sources_;
};

}  // namespace vrec::retrieval

#endif  // VREC_RETRIEVAL_CANDIDATES_H_
