// Proves the Abseil components we use link and run.
#include <string>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"

TEST(AbslLinkTest, ComponentsWork) {
  absl::StatusOr<int> bad = absl::InvalidArgumentError("count must be positive");
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(absl::StrCat("u", 7), "u7");
  EXPECT_EQ(absl::StrFormat("%.2f", 0.5), "0.50");
  absl::flat_hash_map<int, std::string> map{{1, "a"}};
  EXPECT_EQ(map.at(1), "a");
  absl::Mutex mu;
  { absl::MutexLock lock(&mu); }
  absl::Time t;
  std::string error;
  ASSERT_TRUE(absl::ParseTime(absl::RFC3339_full, "2026-01-01T00:00:00Z", &t, &error));
  EXPECT_EQ(absl::ToUnixMillis(t), 1767225600000);
}
