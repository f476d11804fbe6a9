#include "training/index_builder.h"

#include <algorithm>
#include <chrono>
#include <cstdio>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/random.h"
#include "common/status.h"
#include "common/world.h"
#include "featurestore/feature_store.h"
#include "featurestore/transforms.h"
#include "bundle/bundle.h"
#include "retrieval/collaborative_fit.h"
#include "retrieval/item_embeddings.h"
#include "retrieval/two_tower.h"

namespace vrec::training {

absl::StatusOr<std::vector<float>> SampleUserQueries(const Catalog& catalog, const featurestore::FeatureStore& store,
                                                     const retrieval::TwoTowerModel& model, uint32_t n, Rng& rng) {
  const featurestore::FeatureContext context{store.as_of_ms(), Device::kUnknown};
  std::vector<featurestore::UserInputs> users;
  for (uint32_t i = 0; i < n && !catalog.users().empty(); ++i) {
    const User& u = catalog.users()[rng.UniformInt(catalog.users().size())];
    VREC_ASSIGN_OR_RETURN(featurestore::UserRead read, store.GetUser(u.id, context.now_ms));
    users.push_back(featurestore::TransformUser(read.features, context, model.config().transform));
  }
  std::vector<float> queries(users.size() * model.dim());
  VREC_RETURN_IF_ERROR(model.EmbedUsers(users, queries.data()));
  return queries;
}

absl::StatusOr<IndexBuildSummary> BuildBundleIndex(const std::string& world_dir, const std::string& store_dir,
                                                   const std::string& models_dir, const IndexBuildOptions& o) {
  int64_t version = o.version;
  if (version == 0) {
    VREC_ASSIGN_OR_RETURN(version, bundle::LatestBundle(models_dir));
  }
  const std::string bundle = bundle::BundleDir(models_dir, version);
  VREC_ASSIGN_OR_RETURN(bundle::BundleManifest manifest, bundle::ReadBundleManifest(bundle));
  VREC_ASSIGN_OR_RETURN(std::unique_ptr<retrieval::TwoTowerModel> model, bundle::LoadBundleTwoTower(bundle, manifest));
  featurestore::FeatureStoreOptions store_options;
  store_options.read_only = true;  // a server may be writing to it
  VREC_ASSIGN_OR_RETURN(std::unique_ptr<featurestore::FeatureStore> store,
                        featurestore::FeatureStore::Open(store_dir, store_options));
  const featurestore::FeatureContext context{store->as_of_ms(), Device::kUnknown};
  IndexBuildSummary summary;
  summary.bundle_dir = bundle;

  // Item tower over every video in the store.
  auto start = std::chrono::steady_clock::now();
  retrieval::ItemEmbeddings items;
  VREC_RETURN_IF_ERROR(EmbedCatalog(*store, *model, context.now_ms, &items));
  std::vector<VideoId> ids = std::move(items.ids);
  std::vector<float> embeddings = std::move(items.vectors);
  summary.items = ids.size();
  summary.embed_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  if (o.show_progress) {
    std::fprintf(stderr, "build-index: embedded %zu videos in %.1f s\n", ids.size(), summary.embed_seconds);
  }

  // Queries: the user tower over a sample of real users.
  VREC_ASSIGN_OR_RETURN(Catalog catalog, ReadCatalog(world_dir));
  Rng rng(o.hnsw.seed);
  VREC_ASSIGN_OR_RETURN(std::vector<float> queries, SampleUserQueries(catalog, *store, *model, o.recall_queries, rng));

  start = std::chrono::steady_clock::now();
  retrieval::HnswOptions hnsw = o.hnsw;
  const bool tune = hnsw.ef_search == 0;
  if (tune) hnsw.ef_search = o.recall_k;
  VREC_ASSIGN_OR_RETURN(std::unique_ptr<retrieval::HnswIndex> index,
                        retrieval::HnswIndex::Build(std::move(ids), std::move(embeddings), model->dim(), hnsw));
  summary.build_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  summary.memory_bytes = index->memory_bytes();
  summary.ef_search = hnsw.ef_search;
  summary.recall = retrieval::MeasureRecall(*index, queries, o.recall_k);
  if (o.show_progress) {
    std::fprintf(stderr, "build-index: HNSW over %zu videos in %.1f s; recall@%d %.4f at efSearch %d\n", index->size(),
                 summary.build_seconds, o.recall_k, summary.recall, summary.ef_search);
  }
  // The graph is fixed; efSearch only widens the search. Double it until the target is met.
  while (tune && summary.recall < o.recall_target && summary.ef_search < 4096) {
    summary.ef_search *= 2;
    index->set_ef_search(summary.ef_search);
    summary.recall = retrieval::MeasureRecall(*index, queries, o.recall_k);
    if (o.show_progress) {
      std::fprintf(stderr, "build-index: recall@%d %.4f at efSearch %d\n", o.recall_k, summary.recall, summary.ef_search);
    }
  }
  VREC_RETURN_IF_ERROR(index->Save(bundle::BundleItemsPath(bundle), bundle::BundleIndexPath(bundle)));

  bundle::IndexInfo& info = manifest.index.emplace();
  info.items = static_cast<int64_t>(summary.items);
  info.m = hnsw.m;
  info.ef_construction = hnsw.ef_construction;
  info.ef_search = summary.ef_search;
  info.recall_k = o.recall_k;
  info.recall = summary.recall;
  info.recall_queries = static_cast<int64_t>(queries.size() / model->dim());
  info.build_seconds = summary.build_seconds;
  info.features_as_of_ms = context.now_ms;
  if (o.collaborative) {
    VREC_ASSIGN_OR_RETURN(const std::vector<Engagement> engagements, TrainingEngagements(world_dir, manifest));
    retrieval::CollaborativeInfo collab;
    VREC_ASSIGN_OR_RETURN(const retrieval::CollaborativeModel tables,
                          retrieval::FitCollaborative(engagements, o.collab, &collab));
    VREC_RETURN_IF_ERROR(retrieval::SaveCollaborative(tables, bundle::BundleCollabPath(bundle)));
    summary.collab_seconds = collab.fit_seconds;
    summary.collab_ease_videos = collab.ease_videos;
    if (o.show_progress) {
      std::fprintf(stderr,
                   "build-index: collaborative tables in %.1f s: item_knn %zu rows, ease %zu rows (cap %d), "
                   "transitions %zu rows\n",
                   collab.fit_seconds, tables.tables[retrieval::kCollabItemKnn].rows(),
                   tables.tables[retrieval::kCollabEase].rows(), collab.ease_cap,
                   tables.tables[retrieval::kCollabTransitions].rows());
    }
    manifest.collaborative = collab;
  } else {
    manifest.collaborative.reset();
  }
  manifest.complete = true;
  VREC_RETURN_IF_ERROR(WriteBundleManifest(bundle, manifest));
  return summary;
}

absl::StatusOr<std::vector<Engagement>> TrainingEngagements(const std::string& world_dir,
                                                            const bundle::BundleManifest& manifest) {
  VREC_ASSIGN_OR_RETURN(std::vector<Engagement> rows, ReadEngagementsByUser(WorldEventsPath(world_dir)));
  if (manifest.protocol != "time-split") {
    VREC_ASSIGN_OR_RETURN(const HeldOutItems held_out, SplitHeldOut(manifest.protocol, rows));
    rows.erase(std::remove_if(rows.begin(), rows.end(),
                              [&](const Engagement& e) { return held_out.IsTest(e.user, e.video); }),
               rows.end());
  } else {
    const TimestampMs end = manifest.train.end_ms;
    rows.erase(std::remove_if(rows.begin(), rows.end(), [&](const Engagement& e) { return e.time >= end; }),
               rows.end());
  }
  return rows;
}

}  // namespace vrec::training
