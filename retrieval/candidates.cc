#include "retrieval/candidates.h"

#include <algorithm>
#include <cmath>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace vrec::retrieval {
namespace {

// Reciprocal-rank fusion constant (Cormack et al.): ranks deep in one list still count.
constexpr float kFusionK = 60.0f;

}  // namespace

const char* SourceName(SourceId source) {
  return source < kNumSources ? kSources[source].name : "unknown";
}

absl::StatusOr<SourceId> ParseSourceName(absl::string_view name) {
  for (int source = 0; source < kNumSources; ++source) {
    if (name == kSources[source].name) return static_cast<SourceId>(source);
  }
  return absl::InvalidArgumentError(absl::StrCat("unknown candidate source '", name, "'"));
}

absl::Status ParseQuotas(absl::string_view spec, RetrieverOptions* options) {
  for (absl::string_view entry : absl::StrSplit(spec, ',', absl::SkipEmpty())) {
    const std::pair<absl::string_view, absl::string_view> kv = absl::StrSplit(entry, absl::MaxSplits(':', 1));
    int source = 0;
    while (source < kNumSources && kv.first != kSources[source].name) ++source;
    uint32_t quota = 0;
    if (source == kNumSources || !absl::SimpleAtoi(kv.second, &quota) || quota > 10000) {
      std::string names;
      for (const SourceInfo& info : kSources) absl::StrAppend(&names, names.empty() ? "" : ", ", info.name);
      return absl::InvalidArgumentError(absl::StrCat(
          "bad quota '", entry, "': want source:count with count in [0, 10000] and source one of ", names));
    }
    options->quota[source] = quota;
  }
  return absl::OkStatus();
}

Retriever::Retriever(const RetrieverOptions& options, std::shared_ptr<const TwoTowerModel> model,
                     std::shared_ptr<const VectorIndex> index, std::vector<std::unique_ptr<CandidateSource>> sources)
    : options_(options), model_(std::move(model)), index_(std::move(index)), sources_(std::move(sources)) {}

void Retriever::Retrieve(const featurestore::UserFeatures& user, const featurestore::FeatureContext& context,
                         absl::Span<const VideoId> skip, RetrievalResult* out) const {
  out->candidates.clear();
  out->failures.clear();
  out->user_embedding.clear();
  out->produced.fill(0);
  thread_local std::vector<VideoId> engaged;
  featurestore::EngagedVideos(user, &engaged);
  RetrievalQuery query{&user, context, skip, nullptr, engaged};
  if (has_model()) {
    const featurestore::UserInputs inputs = featurestore::TransformUser(user, context, model_->config().transform);
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

}  // namespace vrec::retrieval
