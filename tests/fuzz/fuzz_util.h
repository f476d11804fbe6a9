// Helpers shared by the fuzz targets: a private scratch directory and file I/O.
#ifndef VREC_TESTS_FUZZ_FUZZ_UTIL_H_
#define VREC_TESTS_FUZZ_FUZZ_UTIL_H_

#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

namespace vrec::fuzz {

// A directory of this process's own (under TEST_TMPDIR or /tmp), made on first use.
inline const std::string& ScratchDir() {
  static const std::string dir = [] {
    const char* root = std::getenv("TEST_TMPDIR");
    std::string d = std::string(root != nullptr ? root : "/tmp") + "/vrec_fuzz_" + std::to_string(::getpid());
    std::filesystem::create_directories(d);
    return d;
  }();
  return dir;
}

inline void WriteFile(const std::string& path, const uint8_t* data, size_t size) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(size));
}

inline std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

// Stops the process loudly: a broken invariant is a finding, like a crash.
[[noreturn]] inline void Fail(const char* what) {
  std::fprintf(stderr, "fuzz invariant broken: %s\n", what);
  std::abort();
}

}  // namespace vrec::fuzz

#endif  // VREC_TESTS_FUZZ_FUZZ_UTIL_H_
