// The replay's scoring on hand-made data: systems with known lists get known metrics.
#include "evaluation/replay.h"

#include <vector>

#include "gtest/gtest.h"

namespace vrec::evaluation {
namespace {

// Returns a fixed list per user.
class FixedSystem : public ReplaySystem {
 public:
  FixedSystem(std::string name, std::vector<std::vector<VideoId>> lists) : name_(std::move(name)), lists_(std::move(lists)) {}
  std::string name() const override { return name_; }
  void Recommend(const TestCase& test, int k, Rng& rng, std::vector<VideoId>* out) const override {
    for (VideoId v : lists_[test.user]) {
      if (static_cast<int>(out->size()) < k) out->push_back(v);
    }
  }

 private:
  std::string name_;
  std::vector<std::vector<VideoId>> lists_;
};

ReplayData TwoUsers() {
  ReplayData data;
  data.split_ms = 1000;
  for (VideoId v = 1; v <= 20; ++v) data.available.push_back(v);
  data.is_available.assign(21, 1);
  data.is_available[0] = 0;
  data.category_of.assign(21, 0);
  for (VideoId v = 1; v <= 20; ++v) data.category_of[v] = 1 + v % 2;
  data.upload_ms.assign(21, 0);
  TestCase a;
  a.user = 0;
  a.as_of_ms = 1000;
  a.relevance = {{5, 1}};
  TestCase b;
  b.user = 1;
  b.as_of_ms = 1000;
  b.relevance = {{7, 2}, {9, 1}};
  data.cases = {a, b};
  data.eligible_users = 2;
  return data;
}

TEST(ReplayTest, ScoresKnownListsExactly) {
  const ReplayData data = TwoUsers();
  // User 0: the relevant video first. User 1: video 9 (grade 1) second, video 7 (grade 2) missed.
  const FixedSystem system("fixed", {{5, 1, 2}, {3, 9, 4}});
  ReplayOptions options;
  options.k = 10;
  options.deep_k = 10;
  options.show_progress = false;
  options.threads = 1;
  const std::vector<SystemResult> results = EvaluateSystems(data, {&system}, options);
  ASSERT_EQ(results.size(), 1u);
  const SystemResult& r = results[0];
  EXPECT_EQ(r.cases, 2u);
  EXPECT_DOUBLE_EQ(r.metrics.hit, 1.0);
  EXPECT_DOUBLE_EQ(r.metrics.recall, (1.0 + 0.5) / 2);
  // User 1: DCG = 1 / log2(3); ideal = 3 / log2(2) + 1 / log2(3).
  const double ndcg1 = (1.0 / std::log2(3.0)) / (3.0 + 1.0 / std::log2(3.0));
  EXPECT_NEAR(r.metrics.ndcg, (1.0 + ndcg1) / 2, 1e-9);
  // Coverage: 6 distinct videos of 20.
  EXPECT_NEAR(r.coverage, 6.0 / 20, 1e-9);
}

TEST(ReplayTest, AnEmptyListScoresZero) {
  const ReplayData data = TwoUsers();
  const FixedSystem system("empty", {{}, {}});
  ReplayOptions options;
  options.show_progress = false;
  options.threads = 1;
  const SystemResult r = EvaluateSystems(data, {&system}, options)[0];
  EXPECT_EQ(r.metrics.hit, 0.0);
  EXPECT_EQ(r.metrics.ndcg, 0.0);
}

}  // namespace
}  // namespace vrec::evaluation
