#include "ranking/fusion.h"

#include <cstdio>
#include <fstream>

#include "gtest/gtest.h"

namespace vrec::ranking {
namespace {

retrieval::Candidate Make(VideoId v, retrieval::SourceId source, uint16_t rank, float score) {
  retrieval::Candidate c;
  c.video = v;
  c.sources = static_cast<uint8_t>(1u << source);
  c.source_rank[source] = rank;
  c.source_score[source] = score;
  return c;
}

TEST(FusionTest, InputsDescribeEverySourceAndTheRanker) {
  std::vector<retrieval::Candidate> c = {Make(1, retrieval::kSourceEase, 1, 2.0f),
                                         Make(2, retrieval::kSourceEase, 2, 1.0f)};
  c[1].sources |= 1u << retrieval::kSourceTrending;
  c[1].source_rank[retrieval::kSourceTrending] = 3;
  c[1].source_score[retrieval::kSourceTrending] = 5.0f;
  std::vector<float> in;
  FusionInputs(c, {0.2f, 0.4f}, &in);
  ASSERT_EQ(in.size(), 2u * kFusionFeatures);
  const int e = retrieval::kSourceEase * kFusionSourceFeatures, t = retrieval::kSourceTrending * kFusionSourceFeatures;
  EXPECT_EQ(in[e], 1.0f);
  EXPECT_EQ(in[e + 1], 1.0f);  // rank 1
  EXPECT_EQ(in[e + 2], 1.0f);  // the source's best
  EXPECT_EQ(in[kFusionFeatures + e + 2], 0.5f);
  EXPECT_EQ(in[t], 0.0f);      // candidate 0 is not from trending
  EXPECT_EQ(in[kFusionFeatures + t], 1.0f);
  const int r = kFusionSourceFeatures * retrieval::kNumSources;
  EXPECT_EQ(in[r], 1.0f);                           // ranked
  EXPECT_EQ(in[kFusionFeatures + r + 1], 1.0f);     // the best ranker score
  EXPECT_EQ(in[kFusionFeatures + r + 2], 1.0f);     // ranker rank 1
  FusionInputs(c, {}, &in);
  EXPECT_EQ(in[r], 0.0f);  // not ranked
}

TEST(FusionTest, LeadBySourceOrdersByThatSourceThenByTheFusion) {
  // 300 candidates from ease at ranks 1..300 (shuffled), then 20 from trending only.
  std::vector<retrieval::Candidate> c;
  for (uint16_t i = 0; i < 300; ++i) {
    const uint16_t rank = static_cast<uint16_t>((i * 7) % 300 + 1);
    c.push_back(Make(i, retrieval::kSourceEase, rank, 1.0f / rank));
  }
  for (uint16_t i = 0; i < 20; ++i) c.push_back(Make(300 + i, retrieval::kSourceTrending, i + 1, 20.0f - i));
  auto model = FusionModel::Create(32, 3);
  ASSERT_TRUE(model.ok()) << model.status();
  std::vector<float> in, fused(c.size()), led(c.size());
  FusionInputs(c, {}, &in);
  ASSERT_TRUE((*model)->Score(in, fused.data()).ok());
  (*model)->LeadBy(retrieval::kSourceEase);
  ASSERT_TRUE((*model)->Score(in, led.data()).ok());
  for (size_t a = 0; a < c.size(); ++a) {
    EXPECT_GT(led[a], 0.0f);
    EXPECT_LE(led[a], 1.0f);
    for (size_t b = 0; b < c.size(); ++b) {
      const uint16_t ra = c[a].source_rank[retrieval::kSourceEase], rb = c[b].source_rank[retrieval::kSourceEase];
      if (ra > 0 && rb > 0 && ra < rb) EXPECT_GT(led[a], led[b]) << ra << " vs " << rb;
      if (ra > 0 && rb == 0) EXPECT_GT(led[a], led[b]);
      // The rest keep the fusion's own order.
      if (ra == 0 && rb == 0 && fused[a] > fused[b]) EXPECT_GT(led[a], led[b]);
    }
  }
  EXPECT_FLOAT_EQ(led[0], 1.0f);  // ease rank 1
  EXPECT_TRUE(retrieval::ParseSourceName("ease").ok());
  EXPECT_FALSE(retrieval::ParseSourceName("eas").ok());
}

TEST(FusionTest, LearnsWhichSourceToTrustAndRoundTrips) {
  // 200 queries of 20 candidates: half from ease, half from trending; the engaged one is always
  // ease's first. A fresh model does not know that; a trained one puts it first.
  std::vector<float> inputs, rows;
  std::vector<FusionModel::Query> queries;
  for (int q = 0; q < 200; ++q) {
    std::vector<retrieval::Candidate> c;
    for (uint16_t i = 0; i < 10; ++i) {
      c.push_back(Make(100 + i, retrieval::kSourceTrending, i + 1, 10.0f - i));
      c.push_back(Make(200 + i, retrieval::kSourceEase, i + 1, 1.0f - 0.05f * i));
    }
    FusionInputs(c, {}, &rows);
    // Ease rank 1 is candidate 1; every fifth query also counts ease rank 2 (candidate 3) engaged.
    queries.push_back({inputs.size() / kFusionFeatures, c.size(), q % 5 == 0 ? std::vector<uint32_t>{1, 3} : std::vector<uint32_t>{1}});
    inputs.insert(inputs.end(), rows.begin(), rows.end());
  }
  auto model = FusionModel::Create(8, 1);
  ASSERT_TRUE(model.ok());
  double first = 0, last = 0;
  for (int epoch = 0; epoch < 30; ++epoch) {
    auto loss = (*model)->TrainEpoch(inputs, queries, 16, 1e-2);
    ASSERT_TRUE(loss.ok()) << loss.status();
    (epoch == 0 ? first : last) = *loss;
  }
  EXPECT_LT(last, first);
  std::vector<float> scores(20);
  ASSERT_TRUE((*model)->Score(absl::MakeConstSpan(inputs).subspan(0, 20 * kFusionFeatures), scores.data()).ok());
  EXPECT_EQ(std::max_element(scores.begin(), scores.end()) - scores.begin(), 1);
  EXPECT_EQ(scores[1], 1.0f);  // the best candidate scores 1

  const std::string path = ::testing::TempDir() + "/fusion.pt";
  ASSERT_TRUE((*model)->Save(path).ok());
  auto back = FusionModel::Load(path, 8);
  ASSERT_TRUE(back.ok()) << back.status();
  std::vector<float> again(20);
  ASSERT_TRUE((*back)->Score(absl::MakeConstSpan(inputs).subspan(0, 20 * kFusionFeatures), again.data()).ok());
  EXPECT_EQ(again, scores);
  // Another shape, a truncated file or none: DataLoss, never a crash.
  EXPECT_EQ(FusionModel::Load(path, 16).status().code(), absl::StatusCode::kDataLoss);
  std::string bytes;
  {
    std::ifstream f(path, std::ios::binary);
    bytes.assign(std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>());
  }
  std::ofstream(path, std::ios::binary | std::ios::trunc) << bytes.substr(0, bytes.size() / 2);
  EXPECT_EQ(FusionModel::Load(path, 8).status().code(), absl::StatusCode::kDataLoss);
  EXPECT_EQ(FusionModel::Load(path + ".absent", 8).status().code(), absl::StatusCode::kDataLoss);
}

}  // namespace
}  // namespace vrec::ranking
