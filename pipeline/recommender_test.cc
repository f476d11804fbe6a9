// The pipeline on a fake FeatureView and an exact index: a few dozen videos in memory, a
// freshly initialised (untrained) two-tower model and ranker. Checks the contract of Recommend,
// not recommendation quality: exclusions, degraded fallbacks, explanations, determinism.
#include "pipeline/recommender.h"

#include <algorithm>
#include <map>

#include "gtest/gtest.h"
#include "retrieval/exact_index.h"
#include "retrieval/item_embeddings.h"

namespace vrec::pipeline {
namespace {

constexpr TimestampMs kNow = 1767225600000;  // 2026-01-01

// An in-memory FeatureView with a switch that makes every read fail.
class FakeFeatureView : public featurestore::FeatureView {
 public:
  FakeFeatureView() {
    for (VideoId v = 1; v <= 60; ++v) {
      featurestore::VideoFeatures f;
      f.id = v;
      f.known = true;
      f.category = absl::StrCat("cat", v % 6);
      f.creator_id = v % 13;
      f.duration_ms = 60000;
      f.upload_ms = kNow - static_cast<TimestampMs>(v) * kMsPerHour;  // video 1 is the newest
      f.counters.Add(featurestore::kClicks, v % 7, kNow - kMsPerHour);
      f.counters.Add(featurestore::kImpressions, 20, kNow - kMsPerHour);
      videos_[v] = f;
    }
    featurestore::UserFeatures& u = users_[7];
    u.id = 7;
    u.known = true;
    u.language = "en";
    u.last_active_ms = kNow - kMsPerDay;
    for (VideoId v : {3, 9, 14}) {
      featurestore::HistoryEntry h;
      h.video_id = v;
      h.time_ms = kNow - kMsPerDay;
      h.signals = featurestore::HistoryEntry::kClicked;
      h.watch_ratio = 0.8f;
      u.history.push_back(h);
    }
  }
  absl::StatusOr<featurestore::UserRead> GetUser(UserId id, TimestampMs now_ms) const override {
    if (fail) return absl::UnavailableError("store down");
    featurestore::UserRead r;
    const auto it = users_.find(id);
    if (it != users_.end()) r.features = it->second;
    r.features.id = id;
    featurestore::SetUserReadStatus(featurestore::FeatureTtlOptions(), now_ms, &r);
    return r;
  }
  absl::Status GetVideos(absl::Span<const VideoId> ids, TimestampMs now_ms,
                         std::vector<featurestore::VideoRead>* out) const override {
    if (fail) return absl::UnavailableError("store down");
    out->assign(ids.size(), featurestore::VideoRead());
    for (size_t i = 0; i < ids.size(); ++i) {
      const auto it = videos_.find(ids[i]);
      if (it != videos_.end()) (*out)[i].features = it->second;
      (*out)[i].features.id = ids[i];
      featurestore::SetVideoReadStatus(featurestore::FeatureTtlOptions(), now_ms, &(*out)[i]);
    }
    return absl::OkStatus();
  }
  absl::Status ForEachVideo(const std::function<absl::Status(const featurestore::VideoFeatures&)>& fn) const override {
    for (const auto& [id, v] : videos_) {
      if (absl::Status s = fn(v); !s.ok()) return s;
    }
    return absl::OkStatus();
  }
  bool fail = false;

 private:
  std::map<VideoId, featurestore::VideoFeatures> videos_;
  std::map<UserId, featurestore::UserFeatures> users_;
};

featurestore::TransformOptions SmallTransform() {
  featurestore::TransformOptions t;
  t.video_buckets = 1024;
  t.creator_buckets = 256;
  t.tag_buckets = 256;
  return t;
}

// Collaborative tables in which every video's neighbours are the next five ids.
std::shared_ptr<const retrieval::CollaborativeModel> NextIdTables() {
  auto model = std::make_shared<retrieval::CollaborativeModel>();
  for (retrieval::NeighbourTable& t : model->tables) {
    for (VideoId v = 1; v <= 60; ++v) {
      std::vector<retrieval::ScoredVideo> row;
      for (VideoId n = v + 1; n <= std::min<VideoId>(60, v + 5); ++n) row.push_back({n, 1.0f / (n - v)});
      t.AddRow(v, row);
    }
    t.Finish();
  }
  return model;
}

std::shared_ptr<const FeedModel> MakeModel(const FakeFeatureView& view, bool with_ranker, FeedModelOptions options,
                                           bool with_collaborative = false, bool with_fusion = false) {
  retrieval::TwoTowerConfig tc;
  tc.embedding_dim = 16;
  tc.hidden_dim = 32;
  tc.transform = SmallTransform();
  std::shared_ptr<const retrieval::TwoTowerModel> towers = std::move(*retrieval::TwoTowerModel::Create(tc, 1));
  retrieval::ItemEmbeddings items;
  EXPECT_TRUE(EmbedCatalog(view, *towers, kNow, &items).ok());
  EXPECT_EQ(items.ids.size(), 60u);
  std::shared_ptr<const retrieval::VectorIndex> index =
      std::move(*retrieval::ExactIndex::Create(items.ids, items.vectors, tc.embedding_dim));
  std::shared_ptr<const ranking::RankerModel> ranker;
  if (with_ranker) {
    ranking::RankerConfig rc;
    rc.hidden_dim = 32;
    rc.hidden2_dim = 16;
    rc.transform = SmallTransform();
    ranker = std::move(*ranking::RankerModel::Create(rc, 2));
  }
  auto popularity = retrieval::BuildPopularitySnapshot(view, kNow, options.popularity);
  EXPECT_TRUE(popularity.ok());
  options.rerank.explore_rate = 0;
  FeedModelParts parts{"3", towers, index, ranker, nullptr, std::move(*popularity)};
  if (with_collaborative) parts.collaborative = NextIdTables();
  if (with_fusion) parts.fusion = std::move(*ranking::FusionModel::Create(8, 3));
  return MakeFeedModel(std::move(parts), options);
}

FeedRequest Request(UserId user, uint32_t count) {
  FeedRequest r;
  r.user_id = user;
  r.count = count;
  r.now_ms = kNow;
  return r;
}

TEST(RecommenderTest, RanksCandidatesFromEverySourceAndExplainsThem) {
  FakeFeatureView view;
  auto model = MakeModel(view, true, FeedModelOptions());
  FeedRequest request = Request(7, 10);
  request.exclude = {20, 21};
  auto result = Recommend(request, view, *model);
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(result->model_version, "3");
  EXPECT_TRUE(result->ranked);
  EXPECT_FALSE(result->cold_start);
  EXPECT_TRUE(result->degraded.empty());
  ASSERT_EQ(result->items.size(), 10u);
  EXPECT_GT(result->produced[retrieval::kSourceTwoTower], 0u);
  EXPECT_GT(result->produced[retrieval::kSourceItemToItem], 0u);
  EXPECT_GT(result->produced[retrieval::kSourceFresh], 0u);
  EXPECT_EQ(result->seen_excluded, 3u);
  for (const FeedItem& item : result->items) {
    // Never the user's history or the request's exclusions.
    for (VideoId v : {3u, 9u, 14u, 20u, 21u}) EXPECT_NE(item.video, v);
    EXPECT_TRUE(item.why.ranked);
    const retrieval::Candidate& c = result->candidates[item.why.candidate];
    EXPECT_EQ(c.video, item.video);
    // Every indexed candidate carries the two-tower score the retriever computed.
    EXPECT_TRUE(item.why.signals.has_retrieval_score);
    EXPECT_EQ(item.why.signals.retrieval_score, c.score);
    EXPECT_TRUE(item.why.signals.has_item_to_item);  // the user has engaged seeds
    EXPECT_GT(item.why.ranker_score, 0.0f);
    EXPECT_EQ(item.why.metadata, featurestore::FeatureStatus::kPresent);
  }
  // Same request, same answer.
  auto again = Recommend(request, view, *model);
  ASSERT_TRUE(again.ok());
  for (size_t i = 0; i < result->items.size(); ++i) {
    EXPECT_EQ(again->items[i].video, result->items[i].video);
    EXPECT_EQ(again->items[i].score, result->items[i].score);
  }
}

TEST(RecommenderTest, TheBundlesRuleChoiceDropsRulesUnlessTheFlagsSayOtherwise) {
  FakeFeatureView view;
  FeedModelOptions options;
  auto popularity = retrieval::BuildPopularitySnapshot(view, kNow, options.popularity);
  ASSERT_TRUE(popularity.ok());
  FeedModelParts parts;
  parts.popularity = *popularity;
  parts.rules = {/*diversity=*/false, /*freshness_boost=*/true};
  auto model = MakeFeedModel(parts, options);
  EXPECT_EQ(model->rerank.max_same_category, 0);
  EXPECT_EQ(model->rerank.max_same_creator, 0);
  EXPECT_EQ(model->rerank.freshness_boost, options.rerank.freshness_boost);
  options.bundle_rules = false;
  model = MakeFeedModel(parts, options);
  EXPECT_EQ(model->rerank.max_same_category, options.rerank.max_same_category);
}

TEST(RecommenderTest, ColdStartIsServedNotAnError) {
  FakeFeatureView view;
  auto model = MakeModel(view, true, FeedModelOptions());
  auto result = Recommend(Request(999, 5), view, *model);
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_TRUE(result->cold_start);
  EXPECT_EQ(result->items.size(), 5u);
}

TEST(RecommenderTest, WithoutARankerServesRetrievalOrder) {
  FakeFeatureView view;
  auto model = MakeModel(view, false, FeedModelOptions());
  auto result = Recommend(Request(7, 8), view, *model);
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_FALSE(result->ranked);
  ASSERT_EQ(result->items.size(), 8u);
  for (size_t i = 0; i < result->items.size(); ++i) {
    EXPECT_EQ(result->items[i].video, result->candidates[i].video);
    EXPECT_EQ(result->items[i].score, result->candidates[i].score);
    if (i > 0) EXPECT_GE(result->items[i - 1].score, result->items[i].score);
  }
}

TEST(RecommenderTest, QuotasBoundEachSourceAndAFailingStoreIsAnError) {
  FakeFeatureView view;
  FeedModelOptions options;
  ASSERT_TRUE(
      retrieval::ParseQuotas("two_tower:5,item_to_item:0,trending:3,fresh:0,popular:0", &options.retriever).ok());
  auto model = MakeModel(view, true, options);
  auto result = Recommend(Request(7, 20), view, *model);
  ASSERT_TRUE(result.ok());
  EXPECT_EQ(result->produced[retrieval::kSourceTwoTower], 5u);
  EXPECT_EQ(result->produced[retrieval::kSourceItemToItem], 0u);
  EXPECT_LE(result->produced[retrieval::kSourceTrending], 3u);
  EXPECT_LE(result->candidates.size(), 8u);
  EXPECT_EQ(result->items.size(), result->candidates.size());  // fewer candidates than asked for
  view.fail = true;
  EXPECT_EQ(Recommend(Request(7, 20), view, *model).status().code(), absl::StatusCode::kUnavailable);
}

}  // namespace
}  // namespace vrec::pipeline

namespace vrec::pipeline {
namespace {

TEST(RecommenderTest, CollaborativeSourcesExpandTheEngagedVideosAndTheFusionOrders) {
  FakeFeatureView view;
  auto model = MakeModel(view, true, FeedModelOptions(), /*with_collaborative=*/true, /*with_fusion=*/true);
  auto result = Recommend(Request(7, 10), view, *model);
  ASSERT_TRUE(result.ok()) << result.status();
  // The user engaged with 3, 9 and 14: the tables propose 4-8, 10-13, 15-19 (never the seen ones).
  for (retrieval::SourceId s : {retrieval::kSourceItemKnn, retrieval::kSourceEase, retrieval::kSourceTransitions}) {
    EXPECT_GT(result->produced[s], 0u) << retrieval::SourceName(s);
  }
  bool saw_ease = false;
  for (const retrieval::Candidate& c : result->candidates) {
    if (!c.from(retrieval::kSourceEase)) continue;
    saw_ease = true;
    EXPECT_TRUE((c.video >= 4 && c.video <= 8) || (c.video >= 10 && c.video <= 13) || (c.video >= 15 && c.video <= 19))
        << c.video;
    EXPECT_GT(c.source_rank[retrieval::kSourceEase], 0u);
  }
  EXPECT_TRUE(saw_ease);
  EXPECT_TRUE(result->ranked);
  EXPECT_TRUE(result->fused);
  ASSERT_EQ(result->fusion_scores.size(), result->candidates.size());
  ASSERT_EQ(result->items.size(), 10u);
  for (const FeedItem& item : result->items) {
    EXPECT_EQ(item.why.fusion_score, result->fusion_scores[item.why.candidate]);
    EXPECT_GE(item.why.fusion_score, 0.0f);
    EXPECT_LE(item.why.fusion_score, 1.0f);
  }
  // Without the ranker, the fusion still orders (from the sources alone).
  auto unranked = MakeModel(view, false, FeedModelOptions(), true, true);
  auto fused = Recommend(Request(7, 10), view, *unranked);
  ASSERT_TRUE(fused.ok());
  EXPECT_FALSE(fused->ranked);
  EXPECT_TRUE(fused->fused);
  EXPECT_EQ(fused->items.size(), 10u);
}

}  // namespace
}  // namespace vrec::pipeline
