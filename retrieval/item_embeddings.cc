#include "retrieval/item_embeddings.h"

#include "common/status.h"
#include "featurestore/transforms.h"

namespace vrec::retrieval {
namespace {

// Videos per item-tower forward. Fixed: a forward's floating-point results may depend on its
// batch size, and build-index and the replay must agree bit for bit.
constexpr size_t kBatch = 4096;

}  // namespace

absl::Status EmbedCatalog(const featurestore::FeatureView& view, const TwoTowerModel& model, TimestampMs now_ms,
                          ItemEmbeddings* out) {
  out->ids.clear();
  out->vectors.clear();
  const featurestore::FeatureContext context{now_ms, Device::kUnknown};
  const featurestore::TransformOptions& t = model.config().transform;
  std::vector<featurestore::VideoInputs> batch;
  auto flush = [&]() -> absl::Status {
    if (batch.empty()) return absl::OkStatus();
    const size_t offset = out->vectors.size();
    out->vectors.resize(offset + batch.size() * model.dim());
    VREC_RETURN_IF_ERROR(model.EmbedVideos(batch, out->vectors.data() + offset));
    batch.clear();
    return absl::OkStatus();
  };
  VREC_RETURN_IF_ERROR(view.ForEachVideo([&](const featurestore::VideoFeatures& v) -> absl::Status {
    if (!v.known) return absl::OkStatus();
    out->ids.push_back(v.id);
    batch.push_back(featurestore::TransformVideo(v, context, t));
    return batch.size() >= kBatch ? flush() : absl::OkStatus();
  }));
  return flush();
}

}  // namespace vrec::retrieval
