#include "evaluation/replay_models.h"

#include <algorithm>
#include <optional>
#include <atomic>
#include <filesystem>
#include <cmath>
#include <cstdio>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "common/clock.h"
#include "common/event_log.h"
#include "common/status.h"
#include "featurestore/feature_replay.h"
#include "featurestore/transforms.h"
#include "ranking/ranker.h"
#include "bundle/bundle.h"
#include "pipeline/point_in_time.h"
#include "retrieval/collaborative_fit.h"
#include "retrieval/exact_index.h"
#include "retrieval/internal/two_tower_net.h"
#include "retrieval/item_embeddings.h"
#include "retrieval/popularity.h"
#include "retrieval/two_tower.h"

namespace vrec::evaluation {
namespace {

// Compressed rows: row r's entries are values[offsets[r], offsets[r + 1]).
struct Csr {
  std::vector<uint64_t> offsets;
  std::vector<uint32_t> values;
  absl::Span<const uint32_t> row(size_t r) const {
    if (r + 1 >= offsets.size()) return {};
    return absl::MakeConstSpan(values.data() + offsets[r], offsets[r + 1] - offsets[r]);
  }
};

// By user: the distinct values `map` gives the user's past videos, sorted (a video `map` gives
// no value is left out). `past` is sorted by user.
template <typename Map>
Csr DistinctPastByUser(const std::vector<Engagement>& past, Map map) {
  Csr csr;
  const size_t users = past.empty() ? 0 : size_t{past.back().user} + 1;
  csr.offsets.assign(users + 1, 0);
  ForEachUserRun(past, [&](UserId user, auto begin, auto end) {
    const size_t start = csr.values.size();
    for (auto it = begin; it != end; ++it) {
      if (const std::optional<uint32_t> value = map(it->video)) csr.values.push_back(*value);
    }
    std::sort(csr.values.begin() + start, csr.values.end());
    csr.values.erase(std::unique(csr.values.begin() + start, csr.values.end()), csr.values.end());
    csr.offsets[user + 1] = csr.values.size() - start;
  });
  for (size_t u = 0; u < users; ++u) csr.offsets[u + 1] += csr.offsets[u];
  return csr;
}

// Item-kNN over the past: the same cosine table as the bundle's item_knn source
// (retrieval/collaborative_fit.h), a user's score for a video the sum of its cosines to every
// video the user engaged with in the past.
class ItemKnnSystem : public ReplaySystem {
 public:
  ItemKnnSystem(const ReplayData& data, retrieval::NeighbourTable table)
      : data_(data),
        table_(std::move(table)),
        user_videos_(DistinctPastByUser(data.past_engagements, [](VideoId v) { return std::optional<uint32_t>(v); })) {
    for (VideoId v = 0; v < data.is_available.size(); ++v) {
      if (!data.is_available[v]) unavailable_.push_back(v);
    }
  }

  std::string name() const override { return "item-knn"; }

  void Recommend(const TestCase& test, int k, Rng& rng, std::vector<VideoId>* out) const override {
    thread_local std::vector<retrieval::ScoredVideo> input, ranked;
    retrieval::CollabInput(retrieval::kCollabItemKnn, user_videos_.row(test.user), &input);
    thread_local std::vector<VideoId> skip;  // the user's past and the unavailable videos, sorted
    skip.clear();
    std::merge(test.history.begin(), test.history.end(), unavailable_.begin(), unavailable_.end(),
               std::back_inserter(skip));
    ranked.clear();
    retrieval::CollabScore(table_, input, skip, k, &ranked);
    const size_t start = out->size();
    for (const retrieval::ScoredVideo& s : ranked) out->push_back(s.video);
    FillFromPopularity(data_, test, k, start, out);  // users with no usable history or few neighbours
  }

 private:
  const ReplayData& data_;
  retrieval::NeighbourTable table_;
  Csr user_videos_;                   // by user: the past videos, sorted
  std::vector<VideoId> unavailable_;  // sorted
};

// EASE over the past: the dense closed-form weights (retrieval/collaborative_fit.h) over the
// most engaged videos, a user's score for a video the sum of the weights from every video the
// user engaged with in the past.
class EaseSystem : public ReplaySystem {
 public:
  EaseSystem(const ReplayData& data, retrieval::DenseEase ease)
      : data_(data),
        ease_(std::move(ease)),
        user_columns_(DistinctPastByUser(data.past_engagements, [this](VideoId v) -> std::optional<uint32_t> {
          const auto col = ease_.column.find(v);
          if (col == ease_.column.end()) return std::nullopt;
          return static_cast<uint32_t>(col->second);
        })) {}

  std::string name() const override { return "ease"; }

  void Recommend(const TestCase& test, int k, Rng& rng, std::vector<VideoId>* out) const override {
    const size_t n = ease_.videos.size();
    thread_local std::vector<float> score;
    score.assign(n, 0.0f);
    const absl::Span<const uint32_t> mine = user_columns_.row(test.user);
    for (uint32_t c : mine) {
      const float* row = ease_.weights.data() + size_t{c} * n;
      for (size_t j = 0; j < n; ++j) score[j] += row[j];
    }
    std::vector<std::pair<float, VideoId>> ranked;
    ranked.reserve(n);
    if (!mine.empty()) {
      for (size_t j = 0; j < n; ++j) {
        const VideoId v = ease_.videos[j];
        if (v < data_.is_available.size() && data_.is_available[v] &&
            !std::binary_search(test.history.begin(), test.history.end(), v)) {
          ranked.emplace_back(score[j], v);
        }
      }
    }
    const size_t top = std::min<size_t>(k, ranked.size());
    std::partial_sort(ranked.begin(), ranked.begin() + top, ranked.end(), [](const auto& a, const auto& b) {
      return a.first != b.first ? a.first > b.first : a.second < b.second;
    });
    const size_t start = out->size();
    for (size_t i = 0; i < top; ++i) out->push_back(ranked[i].second);
    FillFromPopularity(data_, test, k, start, out);  // users without past engagement
  }

 private:
  const ReplayData& data_;
  retrieval::DenseEase ease_;
  Csr user_columns_;  // by user: the past videos' EASE columns
};

class PrecomputedSystem : public ReplaySystem {
 public:
  PrecomputedSystem(std::string name, absl::flat_hash_map<UserId, std::vector<VideoId>> lists)
      : name_(std::move(name)), lists_(std::move(lists)) {}
  std::string name() const override { return name_; }
  void Recommend(const TestCase& test, int k, Rng& rng, std::vector<VideoId>* out) const override {
    const auto it = lists_.find(test.user);
    if (it == lists_.end()) return;
    out->insert(out->end(), it->second.begin(), it->second.begin() + std::min<size_t>(k, it->second.size()));
  }

 private:
  std::string name_;
  absl::flat_hash_map<UserId, std::vector<VideoId>> lists_;
};

absl::Status CheckBundleFitsReplay(const bundle::BundleManifest& manifest, const ReplayData& data,
                                   const std::string& dir) {
  const std::string& protocol = manifest.protocol;
  const std::string want = ReplayProtocolName(data.protocol);
  if (protocol != want) {
    return absl::FailedPreconditionError(absl::StrCat("bundle ", dir, " was trained with protocol '", protocol,
                                                      "'; this replay is ", want, " (train with --protocol ", want,
                                                      ")"));
  }
  if (data.protocol == ReplayProtocol::kTimeSplit) {
    const TimestampMs end = manifest.train.end_ms;
    if (end > data.split_ms) {
      return absl::FailedPreconditionError(absl::StrCat(
          "bundle ", dir, " trained on events up to ", FormatTimestamp(end), ", after the replay's split ",
          FormatTimestamp(data.split_ms), ": it has seen the test period (train with --until at or before the split)"));
    }
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::unique_ptr<ReplaySystem>> MakeItemKnnSystem(const ReplayData& data,
                                                                const retrieval::CollabFitOptions& options) {
  VREC_ASSIGN_OR_RETURN(retrieval::NeighbourTable table, retrieval::FitItemKnn(data.past_engagements, options));
  return std::unique_ptr<ReplaySystem>(std::make_unique<ItemKnnSystem>(data, std::move(table)));
}

absl::StatusOr<std::unique_ptr<ReplaySystem>> MakeEaseSystem(const ReplayData& data,
                                                             const retrieval::CollabFitOptions& options) {
  VREC_ASSIGN_OR_RETURN(retrieval::DenseEase ease, retrieval::FitDenseEase(data.past_engagements, options));
  return std::unique_ptr<ReplaySystem>(std::make_unique<EaseSystem>(data, std::move(ease)));
}

namespace {

// A bundle's models as the replay uses them, checked against the replay's protocol and split.
struct ReplayBundle {
  std::string version;
  std::shared_ptr<const retrieval::TwoTowerModel> model;
  std::shared_ptr<const ranking::RankerModel> ranker;  // null when the bundle has none or it is not wanted
  std::shared_ptr<const retrieval::CollaborativeModel> collaborative;  // null when the bundle has none
  std::shared_ptr<const ranking::FusionModel> fusion;                  // null when the bundle uses none
  ranking::RuleChoice rules;                                           // the re-ranking rules it keeps
  featurestore::FeatureUpdateOptions update;           // as the bundle's features were built
};

absl::StatusOr<ReplayBundle> LoadReplayBundle(const ReplayData& data, const std::string& bundle_dir, bool want_ranker) {
  VREC_ASSIGN_OR_RETURN(const bundle::BundleManifest manifest, bundle::ReadBundleManifest(bundle_dir));
  VREC_RETURN_IF_ERROR(CheckBundleFitsReplay(manifest, data, bundle_dir));
  ReplayBundle b;
  b.version = std::filesystem::path(bundle_dir).filename().string();
  if (b.version.empty()) b.version = std::filesystem::path(bundle_dir).parent_path().filename().string();
  VREC_ASSIGN_OR_RETURN(b.model, bundle::LoadBundleTwoTower(bundle_dir, manifest));
  if (want_ranker) {
    if (data.protocol == ReplayProtocol::kTimeSplit && manifest.ranker.has_value()) {
      const TimestampMs end = manifest.ranker->train_end_ms;
      if (end > data.split_ms) {
        return absl::FailedPreconditionError(absl::StrCat("bundle ", bundle_dir, "'s ranker trained up to ",
                                                          FormatTimestamp(end), ", after the replay's split"));
      }
    }
    absl::StatusOr<std::shared_ptr<const ranking::RankerModel>> loaded = bundle::LoadBundleRanker(bundle_dir, manifest);
    if (loaded.ok()) {
      b.ranker = *loaded;
    } else if (!absl::IsNotFound(loaded.status())) {
      return loaded.status();
    }
  }
  if (want_ranker && manifest.collaborative.has_value()) {
    VREC_ASSIGN_OR_RETURN(b.collaborative, bundle::LoadBundleCollaborative(bundle_dir, manifest));
  }
  if (want_ranker && manifest.fusion.has_value() && manifest.fusion->used) {
    VREC_ASSIGN_OR_RETURN(b.fusion, bundle::LoadBundleFusion(bundle_dir, manifest));
  }
  b.rules = bundle::KeptRules(manifest);
  b.update.history_length = manifest.history_length;
  return b;
}

// The feed model of the replay: the bundle's towers, ranker, collaborative tables and fusion
// over the point-in-time index and popularity (pipeline/point_in_time.h).
absl::StatusOr<std::shared_ptr<const pipeline::FeedModel>> ReplayFeedModel(
    const ReplayBundle& bundle, const featurestore::FeatureView& view,
    std::shared_ptr<const retrieval::ExactIndex> index, TimestampMs now_ms, const pipeline::FeedModelOptions& options) {
  pipeline::FeedModelParts parts;
  parts.version = bundle.version;
  parts.two_tower = bundle.model;
  parts.ranker = bundle.ranker;
  parts.collaborative = bundle.collaborative;
  parts.fusion = bundle.fusion;
  parts.rules = bundle.rules;
  return pipeline::PointInTimeFeedModel(view, std::move(index), now_ms, std::move(parts), options);
}

// A bundle as of the replay's split: its models, the past's features and a view of them, and
// an exact index over every video that exists at the split, embedded as of the split.
struct PointInTimeBundle {
  ReplayBundle bundle;
  pipeline::PointInTimeFeatures features;
  std::shared_ptr<const retrieval::ExactIndex> index;
};

absl::StatusOr<PointInTimeBundle> LoadPointInTime(const ReplayData& data, const std::string& world_dir,
                                                  const Catalog& catalog, const std::string& bundle_dir,
                                                  bool want_ranker) {
  PointInTimeBundle pit;
  VREC_ASSIGN_OR_RETURN(pit.bundle, LoadReplayBundle(data, bundle_dir, want_ranker));
  VREC_ASSIGN_OR_RETURN(pit.features,
                        pipeline::ReplayFeaturesAsOf(world_dir, catalog, pit.bundle.update,
                                                     [&](const Event& e) { return data.InPast(e); }, data.split_ms));
  VREC_ASSIGN_OR_RETURN(pit.index, pipeline::PointInTimeIndex(*pit.features.view, *pit.bundle.model, data.split_ms));
  return pit;
}

}  // namespace

pipeline::FeedRequest ReplayFeedRequest(const TestCase& test, uint32_t count) {
  pipeline::FeedRequest request;
  request.user_id = test.user;
  request.count = count;
  request.exclude = test.history;  // sorted, unique
  request.now_ms = test.as_of_ms;
  return request;
}

absl::StatusOr<PointInTimePipeline> MakePointInTimePipeline(const ReplayData& data, const std::string& world_dir,
                                                            const Catalog& catalog, const std::string& bundle_dir,
                                                            const pipeline::FeedModelOptions& options) {
  VREC_ASSIGN_OR_RETURN(PointInTimeBundle pit, LoadPointInTime(data, world_dir, catalog, bundle_dir, true));
  if (pit.bundle.ranker == nullptr) return absl::NotFoundError(absl::StrCat("bundle ", bundle_dir, " has no ranker"));
  PointInTimePipeline out;
  VREC_ASSIGN_OR_RETURN(out.model, ReplayFeedModel(pit.bundle, *pit.features.view, pit.index, data.split_ms, options));
  out.replay = std::move(pit.features.replay);
  out.view = std::move(pit.features.view);
  return out;
}

absl::StatusOr<BundleSystems> MakeBundleSystems(const ReplayData& data, const std::string& world_dir,
                                                          const Catalog& catalog, const std::string& bundle_dir,
                                                          const BundleReplayOptions& options) {
  VREC_ASSIGN_OR_RETURN(const PointInTimeBundle pit,
                        LoadPointInTime(data, world_dir, catalog, bundle_dir, options.full_pipeline));
  const ReplayBundle& bundle = pit.bundle;
  const retrieval::TwoTowerModel& model = *bundle.model;
  const featurestore::FeatureReplay* replay = pit.features.replay.get();
  const featurestore::PointInTimeFeatureView& view = *pit.features.view;
  const retrieval::ExactIndex& items = *pit.index;
  const std::vector<VideoId>& available = items.ids();
  const featurestore::TransformOptions& t = model.config().transform;

  // Two-tower alone: exact top-k of every test user by one GEMM per chunk of users, the
  // user's past engagement masked out.
  absl::flat_hash_map<UserId, std::vector<VideoId>> lists;
  const int64_t n_items = static_cast<int64_t>(available.size());
  const int64_t top = std::min<int64_t>(options.depth, n_items);
  auto index_of = [&](VideoId v) -> int64_t {
    const auto it = std::lower_bound(available.begin(), available.end(), v);
    return it != available.end() && *it == v ? it - available.begin() : -1;
  };
  const size_t chunk = std::max<size_t>(16, (size_t{64} << 20) / std::max<int64_t>(1, n_items));
  try {
    torch::InferenceMode guard;
    const torch::Tensor item_matrix =
        torch::from_blob(const_cast<float*>(items.embeddings().data()), {n_items, model.dim()});
    std::vector<featurestore::UserInputs> users;
    for (size_t s = 0; s < data.cases.size() && top > 0; s += chunk) {
      const size_t n = std::min(chunk, data.cases.size() - s);
      users.clear();
      for (size_t i = 0; i < n; ++i) {
        const TestCase& test = data.cases[s + i];
        users.push_back(featurestore::TransformUser(replay->user(test.user),
                                                    featurestore::FeatureContext{test.as_of_ms, Device::kUnknown}, t));
      }
      std::vector<float> user_embeddings(n * model.dim());
      VREC_RETURN_IF_ERROR(model.EmbedUsers(users, user_embeddings.data()));
      const torch::Tensor u = torch::from_blob(user_embeddings.data(), {static_cast<int64_t>(n), model.dim()});
      torch::Tensor scores = u.matmul(item_matrix.t()).contiguous();
      float* sp = scores.data_ptr<float>();
      for (size_t i = 0; i < n; ++i) {
        for (VideoId v : data.cases[s + i].history) {
          if (const int64_t j = index_of(v); j >= 0) sp[i * n_items + j] = -INFINITY;
        }
      }
      const torch::Tensor best = std::get<1>(scores.topk(top, 1)).contiguous();
      const int64_t* b = best.data_ptr<int64_t>();
      for (size_t i = 0; i < n; ++i) {
        const TestCase& test = data.cases[s + i];
        std::vector<VideoId>& list = lists[test.user];
        for (int64_t j = 0; j < top; ++j) {
          const VideoId v = available[b[i * top + j]];
          if (!std::binary_search(test.history.begin(), test.history.end(), v)) list.push_back(v);
        }
      }
      if (options.show_progress) std::fprintf(stderr, "\rreplay: two-tower ranked %zu/%zu users", s + n, data.cases.size());
    }
    if (options.show_progress) std::fprintf(stderr, "\n");
  } catch (const c10::Error& e) {
    return absl::InternalError(absl::StrCat("two-tower replay failed: ", e.what_without_backtrace()));
  }
  BundleSystems out;
  out.two_tower = std::make_unique<PrecomputedSystem>("two-tower", std::move(lists));
  if (bundle.ranker == nullptr) return out;

  // The full pipeline: the server's Recommend on point-in-time features, request by request.
  VREC_ASSIGN_OR_RETURN(std::shared_ptr<const pipeline::FeedModel> feed_model,
                        ReplayFeedModel(bundle, view, pit.index, data.split_ms, options.feed));
  std::vector<std::vector<VideoId>> pipeline_lists(data.cases.size());
  std::vector<double> recall(data.cases.size(), -1.0);
  std::atomic<size_t> done{0};
  VREC_RETURN_IF_ERROR(pipeline::RecommendEach(
      data.cases.size(), options.threads, view, *feed_model,
      [&](size_t c) { return ReplayFeedRequest(data.cases[c], static_cast<uint32_t>(options.depth)); },
      [&](size_t c, pipeline::FeedResult& result) {
        const TestCase& test = data.cases[c];
        for (const pipeline::FeedItem& item : result.items) pipeline_lists[c].push_back(item.video);
        if (!test.relevance.empty()) {
          absl::flat_hash_set<VideoId> retrieved;
          for (const retrieval::Candidate& candidate : result.candidates) retrieved.insert(candidate.video);
          size_t relevant = 0;
          for (const auto& [v, grade] : test.relevance) relevant += retrieved.contains(v);
          recall[c] = double(relevant) / test.relevance.size();
        }
        const size_t finished = ++done;
        if (options.show_progress && finished % 64 == 0) {
          std::fprintf(stderr, "\rreplay: full pipeline %zu/%zu users", finished, data.cases.size());
        }
      }));
  if (options.show_progress) std::fprintf(stderr, "\rreplay: full pipeline %zu/%zu users\n", data.cases.size(), data.cases.size());
  absl::flat_hash_map<UserId, std::vector<VideoId>> by_user;
  double recall_sum = 0;
  uint64_t recall_cases = 0;
  for (size_t c = 0; c < data.cases.size(); ++c) {
    by_user[data.cases[c].user] = std::move(pipeline_lists[c]);
    if (recall[c] >= 0) {
      recall_sum += recall[c];
      ++recall_cases;
    }
  }
  out.full_pipeline = std::make_unique<PrecomputedSystem>("full-pipeline", std::move(by_user));
  out.candidates_per_user = 0;
  for (uint32_t q : options.feed.retriever.quota) out.candidates_per_user += static_cast<int>(q);
  out.retrieval_recall = recall_cases > 0 ? recall_sum / recall_cases : 0.0;
  return out;
}

absl::StatusOr<std::unique_ptr<ReplaySystem>> MakeTwoTowerSystem(const ReplayData& data,
                                                                      const std::string& world_dir,
                                                                      const Catalog& catalog,
                                                                      const std::string& bundle_dir, int depth,
                                                                      bool show_progress) {
  BundleReplayOptions options;
  options.depth = depth;
  options.full_pipeline = false;
  options.show_progress = show_progress;
  VREC_ASSIGN_OR_RETURN(BundleSystems systems, MakeBundleSystems(data, world_dir, catalog, bundle_dir, options));
  return std::move(systems.two_tower);
}

}  // namespace vrec::evaluation
