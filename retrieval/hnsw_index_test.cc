#include "retrieval/hnsw_index.h"

#include <cmath>
#include <fstream>
#include <iterator>
#include <string>

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

// Overwrites `bytes` at `offset` of a copy of `from` written to `to`.
void CopyWithPatch(const std::string& from, const std::string& to, long offset, const std::string& bytes) {
  std::ifstream in(from, std::ios::binary);
  std::string data((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  data.replace(static_cast<size_t>(offset), bytes.size(), bytes);
  std::ofstream(to, std::ios::binary | std::ios::trunc) << data;
}

// Corrupt index files are DataLoss, never a crash: the entry point past the end (the bytes that
// segfaulted the server's refresh), a wrong element size or count in the header, a link to no
// element, and an item file whose count would overflow the size check.
TEST(HnswIndexTest, CorruptHeaderGraphAndItemCountAreDataLoss) {
  constexpr int kDim = 8;
  std::vector<VideoId> ids;
  for (VideoId v = 1; v <= 300; ++v) ids.push_back(v);
  auto index = HnswIndex::Build(ids, RandomUnitVectors(ids.size(), kDim, 3), kDim, HnswOptions());
  ASSERT_TRUE(index.ok());
  const std::string items = testing::TempPath("c_items.bin"), graph = testing::TempPath("c_hnsw.index");
  const std::string bad_items = testing::TempPath("c_items_bad.bin"), bad = testing::TempPath("c_hnsw_bad.index");
  ASSERT_TRUE((*index)->Save(items, graph).ok());
  ASSERT_TRUE(HnswIndex::Load(items, graph, 10).ok());
  const std::string ff("\xff\xff\xff\x7f", 4);
  for (long offset : {52L /* entry point */, 24L /* bytes per element */, 16L /* element count */,
                      100L /* element 0's first level-0 link */}) {
    CopyWithPatch(graph, bad, offset, ff);
    auto loaded = HnswIndex::Load(items, bad, 10);
    EXPECT_EQ(loaded.status().code(), absl::StatusCode::kDataLoss) << "offset " << offset << ": " << loaded.status();
  }
  CopyWithPatch(items, bad_items, 16, std::string("\x00\x00\x00\x00\x00\x00\x00\x40", 8));  // count 2^62
  EXPECT_EQ(HnswIndex::Load(bad_items, graph, 10).status().code(), absl::StatusCode::kDataLoss);
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
