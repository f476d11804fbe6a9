// Paths under the test's private temporary directory (Bazel's TEST_TMPDIR).
#ifndef VREC_TESTS_TESTING_TEMP_DIR_H_
#define VREC_TESTS_TESTING_TEMP_DIR_H_

#include <cstdlib>
#include <string>

namespace vrec::testing {

// TEST_TMPDIR/name (or /tmp/name outside Bazel).
inline std::string TempPath(const std::string& name) {
  const char* root = std::getenv("TEST_TMPDIR");
  return std::string(root != nullptr ? root : "/tmp") + "/" + name;
}

}  // namespace vrec::testing

#endif  // VREC_TESTS_TESTING_TEMP_DIR_H_
