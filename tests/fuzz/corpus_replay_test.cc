// Replays a fuzz target's seed corpus (tests/fuzz/corpus/TARGET) through its
// LLVMFuzzerTestOneInput in the normal test run, built with the normal compiler: every seed must
// run without crashing or breaking the target's invariants. tools/fuzz.sh runs the same target
// under libFuzzer with ASan and UBSan for long campaigns.
#include <cstdint>
#include <filesystem>
#include <string>

#include "gtest/gtest.h"
#include "tests/fuzz/fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);

namespace vrec::fuzz {
namespace {

TEST(FuzzCorpusTest, EverySeedRuns) {
  const std::string dir = VREC_FUZZ_CORPUS;
  ASSERT_TRUE(std::filesystem::is_directory(dir)) << dir;
  int seeds = 0;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    if (!entry.is_regular_file()) continue;
    const std::string bytes = ReadFile(entry.path().string());
    SCOPED_TRACE(entry.path().string());
    EXPECT_EQ(LLVMFuzzerTestOneInput(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size()), 0);
    ++seeds;
  }
  EXPECT_GE(seeds, 5) << "the corpus in " << dir << " has too few seeds";
  // Inputs no seed covers: empty, and random bytes.
  EXPECT_EQ(LLVMFuzzerTestOneInput(nullptr, 0), 0);
  std::string noise;
  uint64_t x = 88172645463325252ULL;
  for (int i = 0; i < 4096; ++i) {
    x ^= x << 13, x ^= x >> 7, x ^= x << 17;
    noise.push_back(static_cast<char>(x));
  }
  for (size_t n : {1u, 7u, 64u, 333u, 4096u}) {
    EXPECT_EQ(LLVMFuzzerTestOneInput(reinterpret_cast<const uint8_t*>(noise.data()), n), 0);
  }
}

}  // namespace
}  // namespace vrec::fuzz
