#include "retrieval/exact_index.h"

#include <vector>

#include "common/random.h"
#include "gtest/gtest.h"
#include "retrieval/hnsw_index.h"

namespace vrec::retrieval {
namespace {

std::vector<float> RandomRows(size_t rows, int dim, uint64_t seed) {
  Rng rng(seed);
  std::vector<float> out(rows * dim);
  for (float& x : out) x = static_cast<float>(rng.Uniform() * 2 - 1);
  return out;
}

TEST(ExactIndexTest, MatchesBruteForceAndHnswExactSearch) {
  const int dim = 16;
  std::vector<VideoId> ids;
  for (VideoId v = 0; v < 3000; ++v) ids.push_back(3000 - v);  // any order
  const std::vector<float> emb = RandomRows(ids.size(), dim, 1);
  auto exact = ExactIndex::Create(ids, emb, dim);
  ASSERT_TRUE(exact.ok()) << exact.status();
  HnswOptions o;
  auto hnsw = HnswIndex::Build(ids, emb, dim, o);
  ASSERT_TRUE(hnsw.ok());
  const std::vector<float> queries = RandomRows(20, dim, 2);
  std::vector<ScoredVideo> got, want;
  for (int q = 0; q < 20; ++q) {
    (*exact)->Search(&queries[q * dim], 50, &got);
    (*hnsw)->ExactSearch(&queries[q * dim], 50, &want);
    ASSERT_EQ(got.size(), 50u);
    for (size_t i = 0; i < got.size(); ++i) {
      EXPECT_EQ(got[i].video, want[i].video) << q << " " << i;
      EXPECT_EQ(got[i].score, want[i].score);
      if (i > 0) EXPECT_GE(got[i - 1].score, got[i].score);
    }
  }
  // Embedding lookup by id, whatever the input order.
  ASSERT_NE((*exact)->Embedding(3000), nullptr);
  EXPECT_EQ((*exact)->Embedding(3000)[0], emb[0]);
  EXPECT_EQ((*exact)->Embedding(4000), nullptr);
}

TEST(ExactIndexTest, BatchEqualsOneByOneBitForBit) {
  const int dim = 24;  // not a multiple of the 8 lanes
  std::vector<VideoId> ids;
  for (VideoId v = 0; v < 5000; ++v) ids.push_back(v * 3);
  auto exact = ExactIndex::Create(ids, RandomRows(ids.size(), dim, 3), dim);
  ASSERT_TRUE(exact.ok());
  const std::vector<float> queries = RandomRows(7, dim, 4);
  std::vector<std::vector<ScoredVideo>> batch;
  (*exact)->SearchBatch(queries, 30, &batch);
  ASSERT_EQ(batch.size(), 7u);
  std::vector<ScoredVideo> one;
  for (int q = 0; q < 7; ++q) {
    (*exact)->Search(&queries[q * dim], 30, &one);
    ASSERT_EQ(one.size(), batch[q].size());
    for (size_t i = 0; i < one.size(); ++i) {
      EXPECT_EQ(one[i].video, batch[q][i].video);
      EXPECT_EQ(one[i].score, batch[q][i].score);
    }
  }
}

TEST(ExactIndexTest, TiesBreakByLowerIdAndBadInputIsAnError) {
  // Three identical rows: the lower ids win.
  auto exact = ExactIndex::Create({9, 4, 7}, {1, 0, 1, 0, 1, 0}, 2);
  ASSERT_TRUE(exact.ok());
  const float q[2] = {1, 0};
  std::vector<ScoredVideo> out;
  (*exact)->Search(q, 2, &out);
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[0].video, 4u);
  EXPECT_EQ(out[1].video, 7u);
  EXPECT_EQ(ExactIndex::Create({1, 2}, {1, 0, 1}, 2).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ExactIndex::Create({1, 1}, {1, 0, 1, 0}, 2).status().code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace vrec::retrieval
