#include "retrieval/candidates.h"
#include "retrieval/hnsw_index.h"

#include <cmath>

#include "common/random.h"
#include "gtest/gtest.h"

namespace vrec::retrieval {
namespace {

class FailingSource : public CandidateSource {
 public:
  SourceId id() const override { return kSourceFresh; }
  absl::Status Generate(const RetrievalQuery&, size_t, std::vector<ScoredVideo>* out) const override {
    out->push_back({12345, 1.0f});  // partial output before failing must not be used
    return absl::UnavailableError("fresh list is gone");
  }
};

class ThrowingSource : public CandidateSource {
 public:
  SourceId id() const override { return kSourcePopular; }
  absl::Status Generate(const RetrievalQuery&, size_t, std::vector<ScoredVideo>*) const override {
    throw std::runtime_error("boom");
  }
};

// Trending over videos 0..99 with score 100 - id; popular with score id (reverse order).
std::shared_ptr<const Trending> Ranked(bool reverse) {
  std::vector<float> scores(100);
  for (int v = 0; v < 100; ++v) scores[v] = reverse ? float(v + 1) : float(100 - v);
  return std::make_shared<const Trending>(Trending::FromScores(std::move(scores)));
}

std::unique_ptr<HnswIndex> RandomIndex(int n, int dim) {
  Rng rng(7);
  std::vector<VideoId> ids;
  std::vector<float> emb;
  for (int i = 0; i < n; ++i) {
    ids.push_back(static_cast<VideoId>(i));
    double norm = 0;
    std::vector<float> row(dim);
    for (float& x : row) {
      x = static_cast<float>(rng.Normal());
      norm += x * x;
    }
    for (float x : row) emb.push_back(static_cast<float>(x / std::sqrt(norm)));
  }
  HnswOptions o;
  o.ef_search = 200;
  return *HnswIndex::Build(std::move(ids), std::move(emb), dim, o);
}

TEST(RetrieverTest, MergesDeduplicatesAndKeepsSources) {
  std::vector<std::unique_ptr<CandidateSource>> sources;
  sources.push_back(MakeTrendingSource(Ranked(false), kSourceTrending));
  sources.push_back(MakeTrendingSource(Ranked(true), kSourcePopular));
  RetrieverOptions options;
  options.quota[kSourceTrending] = 10;
  options.quota[kSourcePopular] = 95;
  Retriever retriever(options, nullptr, nullptr, std::move(sources));
  featurestore::UserFeatures user;
  const std::vector<VideoId> skip = {0, 99};
  RetrievalResult result;
  retriever.Retrieve(user, featurestore::FeatureContext{1000, Device::kUnknown}, skip, &result);
  EXPECT_TRUE(result.failures.empty());
  EXPECT_EQ(result.produced[kSourceTrending], 10u);
  EXPECT_EQ(result.produced[kSourcePopular], 95u);
  // Trending gives 1..10, popular 98..4: 1..3 only from trending, 4..10 from both.
  ASSERT_EQ(result.candidates.size(), 98u);
  for (const Candidate& c : result.candidates) {
    EXPECT_NE(c.video, 0u);
    EXPECT_NE(c.video, 99u);
    EXPECT_EQ(c.from(kSourceTrending), c.video <= 10) << c.video;
    EXPECT_EQ(c.from(kSourcePopular), c.video >= 4) << c.video;
    EXPECT_FALSE(c.embedded);
  }
  // Without a model the order is rank fusion: videos in both lists come first.
  EXPECT_TRUE(result.candidates[0].from(kSourceTrending) && result.candidates[0].from(kSourcePopular));
  for (size_t i = 1; i < result.candidates.size(); ++i) {
    EXPECT_GE(result.candidates[i - 1].score, result.candidates[i].score);
  }
}

TEST(RetrieverTest, FailingSourcesDoNotFailTheRequest) {
  std::vector<std::unique_ptr<CandidateSource>> sources;
  sources.push_back(std::make_unique<FailingSource>());
  sources.push_back(std::make_unique<ThrowingSource>());
  sources.push_back(MakeTrendingSource(Ranked(false), kSourceTrending));
  Retriever retriever(RetrieverOptions(), nullptr, nullptr, std::move(sources));
  featurestore::UserFeatures user;
  RetrievalResult result;
  retriever.Retrieve(user, featurestore::FeatureContext{1000, Device::kUnknown}, {}, &result);
  ASSERT_EQ(result.failures.size(), 2u);
  EXPECT_EQ(result.failures[0].source, kSourceFresh);
  EXPECT_EQ(result.failures[0].status.code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(result.failures[1].source, kSourcePopular);
  EXPECT_NE(result.failures[1].status.message().find("boom"), std::string::npos);
  ASSERT_EQ(result.candidates.size(), 100u);
  for (const Candidate& c : result.candidates) EXPECT_NE(c.video, 12345u);
}

TEST(RetrieverTest, ItemToItemExpandsEngagedHistoryOnly) {
  const std::unique_ptr<HnswIndex> index = RandomIndex(2000, 16);
  auto source = MakeItemToItemSource(index.get(), 2);
  featurestore::UserFeatures user;
  featurestore::HistoryEntry watched{10, 100, 0.9f, featurestore::HistoryEntry::kWatched};
  featurestore::HistoryEntry skipped{20, 200, 0.0f, featurestore::HistoryEntry::kSkipped};
  user.history = {watched, skipped};
  const std::vector<VideoId> skip = {10, 20};
  RetrievalQuery query{&user, featurestore::FeatureContext{1000, Device::kUnknown}, skip, nullptr};
  std::vector<ScoredVideo> out;
  ASSERT_TRUE(source->Generate(query, 20, &out).ok());
  ASSERT_EQ(out.size(), 20u);
  // Exactly video 10's neighbours (the skipped video is no seed), best first.
  std::vector<ScoredVideo> exact;
  index->ExactSearch(index->Embedding(10), 21, &exact);
  for (size_t i = 0; i < out.size(); ++i) {
    EXPECT_NE(out[i].video, 10u);
    EXPECT_NE(out[i].video, 20u);
    if (i > 0) EXPECT_GE(out[i - 1].score, out[i].score);
  }
  EXPECT_NEAR(out[0].score, exact[1].score, 1e-5);
}

TEST(RetrieverTest, FreshSourceRespectsWindowAndUploadTime) {
  auto fresh = std::make_shared<std::vector<FreshVideo>>(
      std::vector<FreshVideo>{{1, 2000}, {2, 900}, {3, 800}, {4, 100}});  // newest first
  auto source = MakeFreshSource(fresh, /*window_ms=*/500, /*pool=*/10, nullptr);
  featurestore::UserFeatures user;
  const std::vector<VideoId> skip = {3};
  RetrievalQuery query{&user, featurestore::FeatureContext{1000, Device::kUnknown}, skip, nullptr};
  std::vector<ScoredVideo> out;
  ASSERT_TRUE(source->Generate(query, 10, &out).ok());
  // 1 is not uploaded yet, 3 is skipped, 4 is too old.
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].video, 2u);
}

}  // namespace
}  // namespace vrec::retrieval
