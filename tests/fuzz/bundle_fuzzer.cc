// Fuzz target: loading a bundle's untrusted files. The first input byte picks the file:
//   0: MANIFEST text (bundle/manifest.h): parsed, and when valid, written and parsed again to
//      the same text;
//   1: items.bin, 2: hnsw.index, replaced whole by the rest of the input;
//   3: items.bin, 4: hnsw.index, patched: the next 4 bytes an offset into a valid file, the rest
//      written over it there (bit flips and swaps deep inside a well-formed file).
// The index files start from a valid 64-video index. Invariants: loading either fails with
// DataLoss/InvalidArgument/NotFound or gives an index that answers a search (ids it holds).
#include <algorithm>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <string>

#include "bundle/manifest.h"
#include "common/world.h"
#include "retrieval/hnsw_index.h"
#include "tests/fuzz/fuzz_util.h"

namespace {

constexpr int kDim = 8;
constexpr int kVideos = 64;

struct GoodIndex {
  std::string items, index;  // file contents
};

const GoodIndex& Good() {
  static const GoodIndex good = [] {
    std::vector<vrec::VideoId> ids;
    std::vector<float> embeddings;
    uint64_t x = 1;
    for (int i = 0; i < kVideos; ++i) {
      ids.push_back(static_cast<vrec::VideoId>(3 * i + 1));
      for (int d = 0; d < kDim; ++d) {
        x = x * 6364136223846793005ULL + 1442695040888963407ULL;
        embeddings.push_back(static_cast<float>(x >> 40) / static_cast<float>(1 << 24) - 0.5f);
      }
    }
    vrec::retrieval::HnswOptions options;
    options.threads = 1;
    auto built = vrec::retrieval::HnswIndex::Build(ids, embeddings, kDim, options);
    const std::string dir = vrec::fuzz::ScratchDir();
    if (!built.ok() || !(*built)->Save(dir + "/good_items.bin", dir + "/good_hnsw.index").ok()) {
      vrec::fuzz::Fail("cannot build the seed index");
    }
    return GoodIndex{vrec::fuzz::ReadFile(dir + "/good_items.bin"), vrec::fuzz::ReadFile(dir + "/good_hnsw.index")};
  }();
  return good;
}

void FuzzManifest(const uint8_t* data, size_t size) {
  const std::string dir = vrec::fuzz::ScratchDir() + "/bundle";
  std::filesystem::create_directories(dir);
  vrec::fuzz::WriteFile(dir + "/MANIFEST", data, size);
  auto file = vrec::KeyValueFile::Read(dir + "/MANIFEST");
  if (!file.ok()) return;
  auto manifest = vrec::bundle::ParseBundleManifest(*file, dir);
  if (!manifest.ok()) return;
  const vrec::KeyValueFile formatted = vrec::bundle::FormatBundleManifest(*manifest);
  if (!formatted.Write(dir + "/MANIFEST").ok()) vrec::fuzz::Fail("cannot write a parsed manifest");
  auto again = vrec::KeyValueFile::Read(dir + "/MANIFEST");
  if (!again.ok()) vrec::fuzz::Fail("a written manifest does not read back");
  auto reparsed = vrec::bundle::ParseBundleManifest(*again, dir);
  if (!reparsed.ok()) vrec::fuzz::Fail("a written manifest does not parse back");
  if (vrec::bundle::FormatBundleManifest(*reparsed).entries() != formatted.entries()) {
    vrec::fuzz::Fail("manifest does not round-trip");
  }
}

void FuzzIndex(int mode, const uint8_t* data, size_t size) {
  const GoodIndex& good = Good();
  std::string items = good.items, index = good.index;
  std::string& target = (mode == 1 || mode == 3) ? items : index;
  if (mode <= 2) {
    target.assign(reinterpret_cast<const char*>(data), size);
  } else {
    if (size < 4) return;
    uint32_t offset;
    std::memcpy(&offset, data, 4);
    data += 4;
    size -= 4;
    offset %= static_cast<uint32_t>(target.size());
    const size_t n = std::min(size, target.size() - offset);
    std::memcpy(target.data() + offset, data, n);
  }
  const std::string dir = vrec::fuzz::ScratchDir();
  vrec::fuzz::WriteFile(dir + "/items.bin", reinterpret_cast<const uint8_t*>(items.data()), items.size());
  vrec::fuzz::WriteFile(dir + "/hnsw.index", reinterpret_cast<const uint8_t*>(index.data()), index.size());
  auto loaded = vrec::retrieval::HnswIndex::Load(dir + "/items.bin", dir + "/hnsw.index", 32);
  if (!loaded.ok()) {
    const absl::StatusCode code = loaded.status().code();
    if (code != absl::StatusCode::kDataLoss && code != absl::StatusCode::kInvalidArgument &&
        code != absl::StatusCode::kNotFound) {
      std::fprintf(stderr, "%s\n", loaded.status().ToString().c_str());
      vrec::fuzz::Fail("index load failed with an unexpected error code");
    }
    return;
  }
  std::vector<float> query((*loaded)->dim(), 0.25f);
  std::vector<vrec::retrieval::ScoredVideo> out;
  (*loaded)->Search(query.data(), 10, &out);
  if (out.size() > 10) vrec::fuzz::Fail("search returned more than k");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const int mode = data[0] % 5;
  if (mode == 0) {
    FuzzManifest(data + 1, size - 1);
  } else {
    FuzzIndex(mode, data + 1, size - 1);
  }
  return 0;
}
