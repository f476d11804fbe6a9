#include "pipeline/point_in_time.h"

#include <algorithm>
#include <atomic>
#include <thread>
#include <vector>

#include "common/event_log.h"
#include "common/status.h"
#include "retrieval/item_embeddings.h"
#include "retrieval/popularity.h"
#include "retrieval/two_tower.h"

namespace vrec::pipeline {

absl::StatusOr<PointInTimeFeatures> ReplayFeaturesAsOf(const std::string& world_dir, const Catalog& catalog,
                                                       const featurestore::FeatureUpdateOptions& update,
                                                       const std::function<bool(const Event&)>& in_past,
                                                       TimestampMs as_of_ms) {
  PointInTimeFeatures out;
  out.replay = std::make_unique<featurestore::FeatureReplay>(catalog, update);
  VREC_RETURN_IF_ERROR(ForEachEventBlock(WorldEventsPath(world_dir), [&](absl::Span<const Event> block) {
    for (const Event& e : block) {
      if (in_past(e)) out.replay->Apply(e);
    }
    return absl::OkStatus();
  }));
  out.view = std::make_unique<featurestore::PointInTimeFeatureView>(out.replay.get(), as_of_ms);
  return out;
}

absl::StatusOr<std::shared_ptr<const retrieval::ExactIndex>> PointInTimeIndex(const featurestore::FeatureView& view,
                                                                              const retrieval::TwoTowerModel& model,
                                                                              TimestampMs as_of_ms) {
  retrieval::ItemEmbeddings items;
  VREC_RETURN_IF_ERROR(retrieval::EmbedCatalog(view, model, as_of_ms, &items));
  VREC_ASSIGN_OR_RETURN(std::unique_ptr<retrieval::ExactIndex> index,
                        retrieval::ExactIndex::Create(std::move(items.ids), std::move(items.vectors), model.dim()));
  return std::shared_ptr<const retrieval::ExactIndex>(std::move(index));
}

absl::StatusOr<std::shared_ptr<const FeedModel>> PointInTimeFeedModel(const featurestore::FeatureView& view,
                                                                      std::shared_ptr<const retrieval::ExactIndex> index,
                                                                      TimestampMs as_of_ms, FeedModelParts parts,
                                                                      FeedModelOptions options) {
  options.rerank.explore_rate = 0;
  VREC_ASSIGN_OR_RETURN(parts.popularity, retrieval::BuildPopularitySnapshot(view, as_of_ms, options.popularity));
  parts.index = std::move(index);
  return MakeFeedModel(std::move(parts), options);
}

absl::Status RecommendEach(size_t n, int threads, const featurestore::FeatureView& view, const FeedModel& model,
                           const std::function<FeedRequest(size_t)>& make,
                           const std::function<void(size_t, FeedResult&)>& consume) {
  threads = std::max(1, threads);
  std::vector<absl::Status> errors(threads);
  std::atomic<size_t> next{0};
  std::atomic<bool> failed{false};
  retrieval::SetModelThreads(1);
  auto work = [&](int worker) {
    for (size_t i = next++; i < n && !failed; i = next++) {
      absl::StatusOr<FeedResult> result = Recommend(make(i), view, model);
      if (!result.ok()) {
        errors[worker] = result.status();
        failed = true;
        return;
      }
      consume(i, *result);
    }
  };
  std::vector<std::thread> workers;
  for (int w = 1; w < threads; ++w) workers.emplace_back(work, w);
  work(0);
  for (std::thread& w : workers) w.join();
  retrieval::SetModelThreads(threads);
  for (const absl::Status& e : errors) VREC_RETURN_IF_ERROR(e);
  return absl::OkStatus();
}

}  // namespace vrec::pipeline
