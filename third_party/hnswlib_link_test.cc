// Proves hnswlib works: a 100-vector index finds each vector as its own nearest neighbour.
#include <random>
#include <vector>

#include "gtest/gtest.h"
#include "hnswlib/hnswlib.h"

TEST(HnswlibLinkTest, FindsItselfAmongHundredVectors) {
  constexpr int kDim = 16;
  constexpr int kCount = 100;
  std::mt19937 rng(7);
  std::uniform_real_distribution<float> uniform(-1.0f, 1.0f);
  std::vector<float> data(kDim * kCount);
  for (float& x : data) x = uniform(rng);

  hnswlib::L2Space space(kDim);
  hnswlib::HierarchicalNSW<float> index(&space, kCount, /*M=*/16, /*ef_construction=*/100);
  for (int i = 0; i < kCount; ++i) index.addPoint(&data[i * kDim], i);
  index.setEf(50);
  int found_self = 0;
  for (int i = 0; i < kCount; ++i) {
    auto result = index.searchKnn(&data[i * kDim], 1);
    ASSERT_EQ(result.size(), 1u);
    if (result.top().second == static_cast<size_t>(i)) ++found_self;
  }
  EXPECT_EQ(found_self, kCount);
}
