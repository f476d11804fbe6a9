#include "retrieval/hnsw_index.h"

#include <cmath>
#include <fstream>

#include "common/random.h"
#include "gtest/gtest.h"
#include "tests/testing/temp_dir.h"

namespace vrec::retrieval {
namespace {

std::vector<float> RandomUnitVectors(size_t n, int dim, uint64_t seed) {
  Rng rng(seed);
  std::vector<float> v(n * dim);
  for (size_t i = 0; i < n; ++i) {
    double norm = 0;
    for (int d = 0; d < dim; ++d) {
      v[i * dim + d] = static_cast<float>(rng.Normal());
      norm += v[i * dim + d] * v[i * dim + d];
    }
    for (int d = 0; d < dim; ++d) v[i * dim + d] /= static_cast<float>(std::sqrt(norm));
  }
  return v;
}

TEST(HnswIndexTest, RecallAgainstExactSearchAndRoundTrip) {
  constexpr int kDim = 16;
  constexpr size_t kCount = 5000;
  std::vector<VideoId> ids;
  for (size_t i = 0; i < kCount; ++i) ids.push_back(static_cast<VideoId>(kCount - i) * 3);  // unsorted, sparse
  HnswOptions options;
  auto index = HnswIndex::Build(ids, RandomUnitVectors(kCount, kDim, 1), kDim, options);
  ASSERT_TRUE(index.ok()) << index.status();
  const std::vector<float> queries = RandomUnitVectors(200, kDim, 2);
  const double recall = MeasureRecall(**index, queries, 10);
  EXPECT_GT(recall, 0.9);  // ANN recall is checked against exact search on the same data

  std::vector<ScoredVideo> exact;
  (*index)->ExactSearch(queries.data(), 5, &exact);
  ASSERT_EQ(exact.size(), 5u);
  for (size_t i = 1; i < exact.size(); ++i) EXPECT_GE(exact[i - 1].score, exact[i].score);
  const float* e = (*index)->Embedding(exact[0].video);
  ASSERT_NE(e, nullptr);
  float dot = 0;
  for (int d = 0; d < kDim; ++d) dot += e[d] * queries[d];
  EXPECT_NEAR(dot, exact[0].score, 1e-5);
  EXPECT_EQ((*index)->Embedding(1), nullptr);  // not a multiple of 3

  const std::string items = testing::TempPath("items.bin"), graph = testing::TempPath("hnsw.index");
  ASSERT_TRUE((*index)->Save(items, graph).ok());
  auto loaded = HnswIndex::Load(items, graph, options.ef_search);
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  std::vector<ScoredVideo> a, b;
  (*index)->Search(queries.data(), 10, &a);
  (*loaded)->Search(queries.data(), 10, &b);
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i) EXPECT_EQ(a[i].video, b[i].video);

  {
    std::fstream f(items, std::ios::binary | std::ios::in | std::ios::out);
    f.seekp(100);
    f.put('\x55');
  }
  auto corrupt = HnswIndex::Load(items, graph, 64);
  EXPECT_EQ(corrupt.status().code(), absl::StatusCode::kDataLoss);
}

TEST(HnswIndexTest, RejectsBadInput) {
  EXPECT_FALSE(HnswIndex::Build({}, {}, 4, HnswOptions()).ok());
  EXPECT_FALSE(HnswIndex::Build({1, 2}, std::vector<float>(7), 4, HnswOptions()).ok());
  EXPECT_FALSE(HnswIndex::Build({1, 1}, std::vector<float>(8, 0.5f), 4, HnswOptions()).ok());
  EXPECT_EQ(HnswIndex::Load(testing::TempPath("none.bin"), testing::TempPath("none.index"), 10).status().code(),
            absl::StatusCode::kNotFound);
}

}  // namespace
}  // namespace vrec::retrieval
