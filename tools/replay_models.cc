#include "tools/replay_models.h"

#include <algorithm>
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
#include "ranking/cross_features.h"
#include "retrieval/popularity.h"
#include "retrieval/trending.h"
#include "ranking/ranker.h"
#include "ranking/reranker.h"
#include "retrieval/bundle.h"
#include "retrieval/internal/two_tower_net.h"
#include "retrieval/two_tower.h"

namespace vrec {
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

class ItemKnnRecommender : public Recommender {
 public:
  ItemKnnRecommender(const ReplayData& data, const ItemKnnOptions& options) : data_(data), options_(options) {
    // Per user: distinct videos, most recent engagement first. Per video: distinct users.
    const std::vector<Engagement>& past = data.past_engagements;
    const size_t users = past.empty() ? 0 : size_t{past.back().user} + 1;
    video_limit_ = data.is_available.size();
    for (const Engagement& e : past) video_limit_ = std::max<size_t>(video_limit_, size_t{e.video} + 1);
    user_videos_.offsets.assign(users + 1, 0);
    std::vector<std::vector<uint32_t>> by_video(video_limit_);
    std::vector<VideoId> recent;
    ForEachUserRun(past, [&](UserId user, auto begin, auto end) {
      recent.clear();
      for (auto it = end; it != begin;) {
        --it;
        if (std::find(recent.begin(), recent.end(), it->video) == recent.end()) recent.push_back(it->video);
      }
      for (VideoId v : recent) by_video[v].push_back(user);
      user_videos_.offsets[user + 1] = recent.size();
      user_videos_.values.insert(user_videos_.values.end(), recent.begin(), recent.end());
    });
    // Offsets were written per user in id order; users without engagement keep 0 entries.
    for (size_t u = 0; u < users; ++u) user_videos_.offsets[u + 1] += user_videos_.offsets[u];
    video_users_.offsets.assign(video_limit_ + 1, 0);
    for (size_t v = 0; v < video_limit_; ++v) {
      video_users_.offsets[v + 1] = video_users_.offsets[v] + by_video[v].size();
      video_users_.values.insert(video_users_.values.end(), by_video[v].begin(), by_video[v].end());
    }
  }

  std::string name() const override { return "item-knn"; }

  void Recommend(const TestCase& test, int k, Rng& rng, std::vector<VideoId>* out) const override {
    thread_local std::vector<float> score;
    thread_local std::vector<VideoId> touched;
    if (score.size() < video_limit_) score.assign(video_limit_, 0.0f);
    touched.clear();
    const absl::Span<const uint32_t> mine = user_videos_.row(test.user);
    const size_t voters = std::min<size_t>(mine.size(), options_.recent_items);
    for (size_t i = 0; i < voters; ++i) {
      const VideoId item = mine[i];
      const absl::Span<const uint32_t> users = video_users_.row(item);
      if (users.size() < 2) continue;
      const float recency = 1.0f / std::sqrt(1.0f + i);
      // Sample co-engaging users evenly when there are many.
      const size_t take = std::min<size_t>(users.size(), options_.users_per_item);
      const double stride = double(users.size()) / take;
      for (size_t s = 0; s < take; ++s) {
        const UserId other = users[static_cast<size_t>(s * stride)];
        if (other == test.user) continue;
        const absl::Span<const uint32_t> theirs = user_videos_.row(other);
        const size_t n = std::min<size_t>(theirs.size(), options_.items_per_user);
        for (size_t j = 0; j < n; ++j) {
          const VideoId v = theirs[j];
          if (v == item) continue;
          if (score[v] == 0.0f) touched.push_back(v);
          // Cosine of co-engagement, up to the sampling factor shared by this item's votes.
          score[v] += recency * static_cast<float>(stride) /
                      std::sqrt(float(users.size()) * float(std::max<size_t>(1, video_users_.row(v).size())));
        }
      }
    }
    std::vector<std::pair<float, VideoId>> ranked;
    ranked.reserve(touched.size());
    for (VideoId v : touched) {
      if (v < data_.is_available.size() && data_.is_available[v] &&
          !std::binary_search(test.history.begin(), test.history.end(), v)) {
        ranked.emplace_back(score[v], v);
      }
      score[v] = 0.0f;
    }
    const size_t top = std::min<size_t>(k, ranked.size());
    std::partial_sort(ranked.begin(), ranked.begin() + top, ranked.end(), [](const auto& a, const auto& b) {
      return a.first != b.first ? a.first > b.first : a.second < b.second;
    });
    for (size_t i = 0; i < top; ++i) out->push_back(ranked[i].second);
    // Users with no usable history (or few neighbours) are filled from popularity.
    if (static_cast<int>(top) < k) {
      const std::vector<VideoId> taken(out->end() - top, out->end());
      data_.popular.Top(k - top, test.history,
                        [&](VideoId v) { return std::find(taken.begin(), taken.end(), v) != taken.end(); }, out);
    }
  }

 private:
  const ReplayData& data_;
  ItemKnnOptions options_;
  size_t video_limit_ = 0;
  Csr user_videos_;
  Csr video_users_;
};

class PrecomputedRecommender : public Recommender {
 public:
  PrecomputedRecommender(std::string name, absl::flat_hash_map<UserId, std::vector<VideoId>> lists)
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

absl::Status CheckBundleFitsReplay(const KeyValueFile& manifest, const ReplayData& data, const std::string& dir) {
  const std::string protocol = manifest.GetOr("protocol", "");
  const std::string want = data.protocol == ReplayProtocol::kTimeSplit ? "time-split" : "leave-last-out";
  if (protocol != want) {
    return absl::FailedPreconditionError(absl::StrCat("bundle ", dir, " was trained with protocol '", protocol,
                                                      "'; this replay is ", want, " (train with --protocol ", want,
                                                      ")"));
  }
  if (data.protocol == ReplayProtocol::kTimeSplit) {
    VREC_ASSIGN_OR_RETURN(const int64_t end, manifest.GetInt("train.end_ms"));
    if (end > data.split_ms) {
      return absl::FailedPreconditionError(absl::StrCat(
          "bundle ", dir, " trained on events up to ", FormatTimestamp(end), ", after the replay's split ",
          FormatTimestamp(data.split_ms), ": it has seen the test period (train with --until at or before the split)"));
    }
  }
  return absl::OkStatus();
}

}  // namespace

std::unique_ptr<Recommender> MakeItemKnnRecommender(const ReplayData& data, const ItemKnnOptions& options) {
  return std::make_unique<ItemKnnRecommender>(data, options);
}

absl::StatusOr<BundleRecommenders> MakeBundleRecommenders(const ReplayData& data, const std::string& world_dir,
                                                          const Catalog& catalog, const std::string& bundle_dir,
                                                          const BundleReplayOptions& options) {
  VREC_ASSIGN_OR_RETURN(const KeyValueFile manifest, ReadBundleManifest(bundle_dir));
  VREC_RETURN_IF_ERROR(CheckBundleFitsReplay(manifest, data, bundle_dir));
  VREC_ASSIGN_OR_RETURN(const TwoTowerConfig config, ReadModelConfig(manifest));
  VREC_ASSIGN_OR_RETURN(std::unique_ptr<TwoTowerModel> model, TwoTowerModel::Load(BundleModelPath(bundle_dir), config));
  std::shared_ptr<const RankerModel> ranker;
  if (options.full_pipeline) {
    if (data.protocol == ReplayProtocol::kTimeSplit && manifest.Has("ranker.train.end_ms")) {
      VREC_ASSIGN_OR_RETURN(const int64_t end, manifest.GetInt("ranker.train.end_ms"));
      if (end > data.split_ms) {
        return absl::FailedPreconditionError(absl::StrCat("bundle ", bundle_dir, "'s ranker trained up to ",
                                                          FormatTimestamp(end), ", after the replay's split"));
      }
    }
    absl::StatusOr<std::shared_ptr<const RankerModel>> loaded = LoadBundleRanker(bundle_dir, manifest);
    if (loaded.ok()) {
      ranker = *loaded;
    } else if (!absl::IsNotFound(loaded.status())) {
      return loaded.status();
    }
  }

  // Features as the past left them: the same update code as featurize and training.
  FeatureUpdateOptions update;
  if (absl::StatusOr<int64_t> h = manifest.GetInt("features.history_length"); h.ok()) {
    update.history_length = static_cast<uint32_t>(*h);
  }
  FeatureReplay replay(catalog, update);
  VREC_RETURN_IF_ERROR(ForEachEventBlock(WorldEventsPath(world_dir), [&](absl::Span<const Event> block) {
    for (const Event& e : block) {
      if (data.InPast(e)) replay.Apply(e);
    }
    return absl::OkStatus();
  }));
  const auto& t = config.transform;
  const FeatureContext item_context{data.split_ms, Device::kUnknown};
  // The ranker's trending and popular signals: the server's snapshot as of the split.
  Trending trending, popular;
  if (ranker != nullptr) {
    std::vector<float> trending_scores, popular_scores;
    PointInTimePopularityScores(catalog, replay, data.split_ms, &trending_scores, &popular_scores);
    trending = Trending::FromScores(std::move(trending_scores));
    popular = Trending::FromScores(std::move(popular_scores));
  }
  std::vector<VideoInputs> videos;
  videos.reserve(data.available.size());
  for (VideoId v : data.available) videos.push_back(TransformVideo(replay.video(v), item_context, t));
  std::vector<float> item_embeddings(videos.size() * model->dim());
  for (size_t i = 0; i < videos.size(); i += 8192) {
    const size_t n = std::min<size_t>(8192, videos.size() - i);
    VREC_RETURN_IF_ERROR(
        model->EmbedVideos(absl::MakeConstSpan(videos.data() + i, n), item_embeddings.data() + i * model->dim()));
  }
  if (ranker == nullptr) {
    videos.clear();
    videos.shrink_to_fit();
  }

  absl::flat_hash_map<UserId, std::vector<VideoId>> lists, pipeline_lists;
  const int64_t n_items = static_cast<int64_t>(data.available.size());
  const int64_t top =
      std::min<int64_t>(std::max<int64_t>(options.depth, ranker ? options.quota[kSourceTwoTower] : 0), n_items);
  auto index_of = [&](VideoId v) -> int64_t {
    const auto it = std::lower_bound(data.available.begin(), data.available.end(), v);
    return it != data.available.end() && *it == v ? it - data.available.begin() : -1;
  };
  // The fresh source's uploads: available videos, newest first.
  std::vector<int64_t> by_upload;
  if (ranker != nullptr) {
    for (int64_t j = 0; j < n_items; ++j) by_upload.push_back(j);
    std::sort(by_upload.begin(), by_upload.end(), [&](int64_t a, int64_t b) {
      const TimestampMs ua = replay.video(data.available[a]).upload_ms, ub = replay.video(data.available[b]).upload_ms;
      return ua != ub ? ua > ub : a < b;
    });
  }
  // Item-to-item neighbours per seed: enough for a user whose only seed it is.
  const uint32_t i2i_quota = options.quota[kSourceItemToItem];
  const int64_t per_seed_max = std::min<int64_t>(n_items, i2i_quota + 4);
  BundleRecommenders out;
  double recall_sum = 0;
  uint64_t recall_cases = 0;
  RerankOptions rerank = options.rerank;
  rerank.explore_rate = 0;  // deterministic lists
  // Score users in chunks: one GEMM per chunk, history masked out, then top-k.
  const size_t chunk = std::max<size_t>(16, (size_t{64} << 20) / std::max<int64_t>(1, n_items));
  try {
    torch::InferenceMode guard;
    const torch::Tensor items = torch::from_blob(item_embeddings.data(), {n_items, model->dim()});
    std::vector<UserInputs> users;
    std::vector<VideoId> candidates, generated;
    absl::flat_hash_set<VideoId> in_candidates;
    std::vector<std::vector<VideoId>> chunk_seeds;
    std::vector<std::vector<std::pair<float, int64_t>>> neighbours;  // per seed row of the chunk: (score, item)
    std::vector<ScoredVideo> scored;
    absl::flat_hash_map<VideoId, float> best_similarity;
    std::vector<VideoInputs> candidate_inputs;
    std::vector<CrossInputs> cross;
    std::vector<float> heads;
    std::vector<RerankInput> rerank_inputs;
    std::vector<RerankedItem> reranked;
    std::vector<CreatorId> creators;
    std::vector<const float*> seeds;
    for (size_t s = 0; s < data.cases.size(); s += chunk) {
      const size_t n = std::min(chunk, data.cases.size() - s);
      users.clear();
      for (size_t i = 0; i < n; ++i) {
        const TestCase& test = data.cases[s + i];
        users.push_back(TransformUser(replay.user(test.user), FeatureContext{test.as_of_ms, Device::kUnknown}, t));
      }
      std::vector<float> user_embeddings(n * model->dim());
      VREC_RETURN_IF_ERROR(model->EmbedUsers(users, user_embeddings.data()));
      const torch::Tensor u = torch::from_blob(user_embeddings.data(), {static_cast<int64_t>(n), model->dim()});
      torch::Tensor scores = u.matmul(items.t()).contiguous();
      float* sp = scores.data_ptr<float>();
      for (size_t i = 0; i < n; ++i) {
        for (VideoId v : data.cases[s + i].history) {
          if (const int64_t j = index_of(v); j >= 0) sp[i * n_items + j] = -INFINITY;
        }
      }
      const torch::Tensor best = std::get<1>(scores.topk(top, 1)).contiguous();
      const int64_t* b = best.data_ptr<int64_t>();
      // Item-to-item: exact neighbours of every seed of the chunk's users, the user's history
      // masked out, in row groups of at most 6M scores (24 MB: below the allocator's mmap
      // threshold, so the buffer is reused instead of faulted in again for every group).
      chunk_seeds.assign(n, {});
      neighbours.clear();
      std::vector<int64_t> seed_rows, seed_owner;
      if (ranker != nullptr && i2i_quota > 0) {
        for (size_t i = 0; i < n; ++i) {
          EngagedSeeds(replay.user(data.cases[s + i].user), &chunk_seeds[i]);
          for (VideoId v : chunk_seeds[i]) {
            if (const int64_t j = index_of(v); j >= 0) {
              seed_rows.push_back(j);
              seed_owner.push_back(static_cast<int64_t>(i));
            }
          }
        }
        const int64_t group = std::max<int64_t>(1, (int64_t{6} << 20) / std::max<int64_t>(1, n_items));
        for (size_t g = 0; g < seed_rows.size(); g += group) {
          const int64_t rows = std::min<int64_t>(group, static_cast<int64_t>(seed_rows.size() - g));
          const torch::Tensor index = torch::from_blob(seed_rows.data() + g, {rows}, torch::kInt64);
          torch::Tensor similarity = items.index_select(0, index).matmul(items.t()).contiguous();
          float* sim = similarity.data_ptr<float>();
          for (int64_t r = 0; r < rows; ++r) {
            for (VideoId v : data.cases[s + seed_owner[g + r]].history) {
              if (const int64_t j = index_of(v); j >= 0) sim[r * n_items + j] = -INFINITY;
            }
          }
          const auto [values, positions] = similarity.topk(per_seed_max, 1);
          const torch::Tensor vc = values.contiguous(), pc = positions.contiguous();
          const float* vp = vc.data_ptr<float>();
          const int64_t* pp = pc.data_ptr<int64_t>();
          for (int64_t r = 0; r < rows; ++r) {
            neighbours.emplace_back();
            for (int64_t k = 0; k < per_seed_max; ++k) {
              if (std::isfinite(vp[r * per_seed_max + k])) neighbours.back().emplace_back(vp[r * per_seed_max + k], pp[r * per_seed_max + k]);
            }
          }
        }
      }
      size_t next_seed_row = 0;
      for (size_t i = 0; i < n; ++i) {
        const TestCase& test = data.cases[s + i];
        std::vector<VideoId>& list = lists[test.user];
        for (int64_t j = 0; j < std::min<int64_t>(top, options.depth); ++j) {
          const VideoId v = data.available[b[i * top + j]];
          if (!std::binary_search(test.history.begin(), test.history.end(), v)) list.push_back(v);
        }
        if (ranker == nullptr) continue;
        // The full pipeline: the server's sources with its quotas, the ranker, re-ranking.
        candidates.clear();
        in_candidates.clear();
        auto add = [&](VideoId v) {
          if (in_candidates.insert(v).second) candidates.push_back(v);
        };
        uint32_t taken = 0;
        for (int64_t j = 0; j < top && taken < options.quota[kSourceTwoTower]; ++j) {
          const VideoId v = data.available[b[i * top + j]];
          if (std::binary_search(test.history.begin(), test.history.end(), v)) continue;
          add(v);
          ++taken;
        }
        // Item-to-item, as the source merges it: each seed's best per_seed neighbours, a video
        // reached from several seeds keeping its best similarity.
        best_similarity.clear();
        size_t user_rows = 0;
        while (next_seed_row + user_rows < seed_owner.size() &&
               seed_owner[next_seed_row + user_rows] == static_cast<int64_t>(i)) {
          ++user_rows;
        }
        if (user_rows > 0) {
          const size_t per_seed = (i2i_quota + user_rows - 1) / user_rows + 4;
          for (size_t r = next_seed_row; r < next_seed_row + user_rows; ++r) {
            for (size_t k = 0; k < neighbours[r].size() && k < per_seed; ++k) {
              const auto [similarity, j] = neighbours[r][k];
              auto [slot, inserted] = best_similarity.try_emplace(data.available[j], similarity);
              if (!inserted) slot->second = std::max(slot->second, similarity);
            }
          }
        }
        next_seed_row += user_rows;
        scored.clear();
        for (const auto& [v, similarity] : best_similarity) scored.push_back({v, similarity});
        KeepBest(0, i2i_quota, &scored);
        for (const ScoredVideo& c : scored) add(c.video);
        generated.clear();
        trending.Top(options.quota[kSourceTrending], test.history, &generated);
        for (VideoId v : generated) add(v);
        // Fresh: uploads of the window before the request, the newest fresh_pool of them, by the
        // user's affinity.
        scored.clear();
        size_t considered = 0;
        for (int64_t j : by_upload) {
          const TimestampMs upload = replay.video(data.available[j]).upload_ms;
          if (upload >= test.as_of_ms) continue;
          if (upload < test.as_of_ms - kCrossFreshWindowMs || considered == options.fresh_pool) break;
          ++considered;
          if (std::binary_search(test.history.begin(), test.history.end(), data.available[j])) continue;
          scored.push_back({data.available[j], sp[i * n_items + j]});
        }
        KeepBest(0, options.quota[kSourceFresh], &scored);
        for (const ScoredVideo& c : scored) add(c.video);
        generated.clear();
        popular.Top(options.quota[kSourcePopular], test.history, &generated);
        for (VideoId v : generated) add(v);
        size_t relevant = 0;
        for (const auto& [v, grade] : test.relevance) {
          relevant += in_candidates.contains(v);
        }
        if (!test.relevance.empty()) {
          recall_sum += double(relevant) / test.relevance.size();
          ++recall_cases;
        }
        const UserFeatures& user = replay.user(test.user);
        CatalogHistoryCreators(user, catalog, &creators);
        const UserCrossContext context(user, creators);
        seeds.clear();
        for (VideoId v : chunk_seeds[i]) {
          const int64_t j = index_of(v);
          seeds.push_back(j >= 0 ? item_embeddings.data() + j * model->dim() : nullptr);
        }
        candidate_inputs.clear();
        cross.clear();
        rerank_inputs.clear();
        for (VideoId v : candidates) {
          const int64_t j = index_of(v);
          const VideoFeatures& features = replay.video(v);
          candidate_inputs.push_back(j >= 0 ? videos[j] : TransformVideo(features, item_context, t));
          SourceSignals signals;
          if (j >= 0) {
            signals.retrieval_score = sp[i * n_items + j];
            signals.has_retrieval_score = true;
            signals.has_item_to_item = ItemToItemScore(seeds, item_embeddings.data() + j * model->dim(), model->dim(),
                                                       &signals.item_to_item);
          }
          signals.trending_rank = trending.rank(v);
          signals.popular_rank = popular.rank(v);
          cross.push_back(context.Make(features, test.as_of_ms, signals));
        }
        heads.resize(candidates.size() * kNumRankerHeads);
        VREC_RETURN_IF_ERROR(ranker->Score(users[i], candidate_inputs, cross, heads.data()));
        for (size_t c = 0; c < candidates.size(); ++c) {
          const VideoFeatures& features = replay.video(candidates[c]);
          rerank_inputs.push_back({ranker->Combine(&heads[c * kNumRankerHeads]), CategoryHash(features.category),
                                   features.creator_id, features.upload_ms, false});
        }
        Rerank(rerank_inputs, options.depth, test.as_of_ms, rerank, 0, &reranked);
        std::vector<VideoId>& ranked = pipeline_lists[test.user];
        for (const RerankedItem& r : reranked) ranked.push_back(candidates[r.index]);
      }
      if (options.show_progress) {
        std::fprintf(stderr, "\rreplay: %s ranked %zu/%zu users", ranker ? "two-tower and full pipeline" : "two-tower",
                     s + n, data.cases.size());
      }
    }
    if (options.show_progress) std::fprintf(stderr, "\n");
  } catch (const c10::Error& e) {
    return absl::InternalError(absl::StrCat("two-tower replay failed: ", e.what_without_backtrace()));
  }
  out.two_tower = std::make_unique<PrecomputedRecommender>("two-tower", std::move(lists));
  if (ranker != nullptr) {
    out.full_pipeline = std::make_unique<PrecomputedRecommender>("full-pipeline", std::move(pipeline_lists));
    out.candidates_per_user = 0;
    for (uint32_t q : options.quota) out.candidates_per_user += static_cast<int>(q);
    out.retrieval_recall = recall_cases > 0 ? recall_sum / recall_cases : 0.0;
  }
  return out;
}

absl::StatusOr<std::unique_ptr<Recommender>> MakeTwoTowerRecommender(const ReplayData& data,
                                                                      const std::string& world_dir,
                                                                      const Catalog& catalog,
                                                                      const std::string& bundle_dir, int depth,
                                                                      bool show_progress) {
  BundleReplayOptions options;
  options.depth = depth;
  options.full_pipeline = false;
  options.show_progress = show_progress;
  VREC_ASSIGN_OR_RETURN(BundleRecommenders systems, MakeBundleRecommenders(data, world_dir, catalog, bundle_dir, options));
  return std::move(systems.two_tower);
}

}  // namespace vrec
