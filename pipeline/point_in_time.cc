#include "pipeline/point_in_time.h"

#include "common/event_log.h"
#include "common/status.h"
#include "retrieval/item_embeddings.h"
#include "retrieval/popularity.h"

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

}  // namespace vrec::pipeline
