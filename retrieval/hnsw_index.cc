#include "retrieval/hnsw_index.h"

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstring>
#include <numeric>
#include <stdexcept>
#include <thread>

#include "absl/strings/str_cat.h"
#include "common/crc32c.h"
#include "common/status.h"
#include "common/world.h"
#include "hnswlib/hnswlib.h"

namespace vrec::retrieval {
namespace {

constexpr char kItemsMagic[8] = {'V', 'R', 'E', 'C', 'I', 'T', 'M', '1'};
constexpr uint32_t kItemsVersion = 1;

// hnswlib trusts its file: a corrupted header (an entry point past the end, a huge element
// size) makes its loader allocate wildly or its search read out of bounds. The fixed header
// (hnswlib 0.6.2's saveIndex layout) is checked against what an index of `count` vectors of
// `dim` floats must hold before hnswlib reads the file, and the graph after.
absl::Status CheckHnswHeader(const std::string& path, uint64_t count, uint32_t dim) {
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (f == nullptr) return absl::NotFoundError(absl::StrCat("no HNSW index at ", path));
  unsigned char header[96];
  const size_t got = std::fread(header, 1, sizeof(header), f);
  std::fseek(f, 0, SEEK_END);
  const long file_size = std::ftell(f);
  std::fclose(f);
  if (got != sizeof(header)) return absl::DataLossError(absl::StrCat(path, ": truncated HNSW header"));
  auto u64 = [&](int at) {
    uint64_t v;
    std::memcpy(&v, header + at, 8);
    return v;
  };
  int32_t max_level;
  uint32_t entry;
  std::memcpy(&max_level, header + 48, 4);
  std::memcpy(&entry, header + 52, 4);
  const uint64_t offset_level0 = u64(0), elements = u64(16), per_element = u64(24), label_offset = u64(32),
                 offset_data = u64(40), max_m = u64(56), max_m0 = u64(64), m = u64(72);
  const uint64_t links0 = max_m0 * 4 + 4, data = uint64_t{dim} * 4;
  std::string why;
  if (offset_level0 != 0 || elements != count) {
    why = "element count disagrees with the item file";
  } else if (m < 2 || m > 256 || max_m != m || max_m0 != 2 * m) {
    why = "bad M";
  } else if (per_element != links0 + data + 8 || label_offset != links0 + data || offset_data != links0) {
    why = "element layout disagrees with the dimension";
  } else if (max_level < 0 || max_level > 64 || (count > 0 && entry >= count)) {
    why = "entry point out of range";
  } else if (file_size < 0 || static_cast<uint64_t>(file_size) < sizeof(header) + count * per_element) {
    why = "truncated";
  }
  if (!why.empty()) return absl::DataLossError(absl::StrCat(path, ": corrupt HNSW index (", why, ")"));
  return absl::OkStatus();
}

// After hnswlib's load: every level within the maximum, every link list within M and pointing
// at an element, every label a distinct position of the item file.
template <typename Graph>
absl::Status CheckHnswGraph(const Graph& h, uint64_t count, const std::string& path) {
  auto corrupt = [&](absl::string_view why) {
    return absl::DataLossError(absl::StrCat(path, ": corrupt HNSW index (", why, ")"));
  };
  if (h.label_lookup_.size() != count) return corrupt("repeated labels");
  if (count > 0 && h.element_levels_[h.enterpoint_node_] != h.maxlevel_) return corrupt("entry point level");
  for (uint64_t i = 0; i < count; ++i) {
    if (h.getExternalLabel(i) >= count) return corrupt("label out of range");
    const int levels = h.element_levels_[i];
    if (levels < 0 || levels > h.maxlevel_) return corrupt("element level out of range");
    for (int level = 0; level <= levels; ++level) {
      unsigned int* links = h.get_linklist_at_level(static_cast<hnswlib::tableint>(i), level);
      const unsigned int size = h.getListCount(links);
      if (size > (level == 0 ? h.maxM0_ : h.maxM_)) return corrupt("link list too long");
      for (unsigned int j = 1; j <= size; ++j) {
        if (links[j] >= count) return corrupt("link out of range");
        // Search reads the neighbour's own list at this level: it must have one.
        if (h.element_levels_[links[j]] < level) return corrupt("link to an element below its level");
      }
    }
  }
  return absl::OkStatus();
}

}  // namespace

// hnswlib objects; exceptions from hnswlib are caught in this file.
struct HnswIndex::Graph {
  explicit Graph(int dim) : space(dim) {}
  hnswlib::InnerProductSpace space;
  std::unique_ptr<hnswlib::HierarchicalNSW<float>> hnsw;
};

HnswIndex::~HnswIndex() = default;

absl::StatusOr<std::unique_ptr<HnswIndex>> HnswIndex::Build(std::vector<VideoId> ids, std::vector<float> embeddings,
                                                            int dim, const HnswOptions& options) {
  if (dim < 1 || embeddings.size() != ids.size() * dim) {
    return absl::InvalidArgumentError("embeddings must hold ids.size() x dim floats");
  }
  if (ids.empty()) return absl::InvalidArgumentError("nothing to index");
  if (options.m < 2 || options.ef_construction < 1 || options.ef_search < 1 || options.threads < 1) {
    return absl::InvalidArgumentError("HNSW needs M >= 2, efConstruction >= 1, efSearch >= 1, threads >= 1");
  }
  // Sort by id so ids and embeddings share positions and lookups can binary-search.
  std::vector<uint32_t> order(ids.size());
  std::iota(order.begin(), order.end(), 0);
  std::sort(order.begin(), order.end(), [&](uint32_t a, uint32_t b) { return ids[a] < ids[b]; });
  std::unique_ptr<HnswIndex> index(new HnswIndex());
  index->dim_ = dim;
  index->ids_.resize(ids.size());
  index->embeddings_.resize(embeddings.size());
  for (size_t i = 0; i < order.size(); ++i) {
    index->ids_[i] = ids[order[i]];
    std::memcpy(&index->embeddings_[i * dim], &embeddings[size_t{order[i]} * dim], sizeof(float) * dim);
  }
  if (std::adjacent_find(index->ids_.begin(), index->ids_.end()) != index->ids_.end()) {
    return absl::InvalidArgumentError("duplicate video ids");
  }
  index->BuildLookup();
  index->graph_ = std::make_unique<Graph>(dim);
  try {
    index->graph_->hnsw = std::make_unique<hnswlib::HierarchicalNSW<float>>(
        &index->graph_->space, index->ids_.size(), options.m, options.ef_construction, options.seed);
    std::atomic<size_t> next{0};
    std::vector<std::thread> workers;
    std::exception_ptr failure;
    std::atomic<bool> failed{false};
    for (int t = 0; t < options.threads; ++t) {
      workers.emplace_back([&] {
        try {
          for (size_t i = next++; i < index->ids_.size() && !failed; i = next++) {
            index->graph_->hnsw->addPoint(&index->embeddings_[i * dim], i);
          }
        } catch (...) {
          failed = true;
          failure = std::current_exception();
        }
      });
    }
    for (std::thread& w : workers) w.join();
    if (failure) std::rethrow_exception(failure);
    index->ef_search_ = options.ef_search;
  } catch (const std::exception& e) {
    return absl::InternalError(absl::StrCat("HNSW build failed: ", e.what()));
  }
  return index;
}

absl::Status HnswIndex::Save(const std::string& items_path, const std::string& index_path) const {
  std::string bytes(kItemsMagic, 8);
  const uint32_t version = kItemsVersion, dim = static_cast<uint32_t>(dim_);
  const uint64_t count = ids_.size();
  bytes.append(reinterpret_cast<const char*>(&version), 4);
  bytes.append(reinterpret_cast<const char*>(&dim), 4);
  bytes.append(reinterpret_cast<const char*>(&count), 8);
  bytes.append(reinterpret_cast<const char*>(ids_.data()), ids_.size() * 4);
  bytes.append(reinterpret_cast<const char*>(embeddings_.data()), embeddings_.size() * 4);
  const uint32_t crc = Crc32c(bytes.data(), bytes.size());
  bytes.append(reinterpret_cast<const char*>(&crc), 4);
  std::FILE* f = std::fopen(items_path.c_str(), "wb");
  if (f == nullptr) return absl::InternalError(absl::StrCat("cannot write ", items_path));
  const bool ok = std::fwrite(bytes.data(), 1, bytes.size(), f) == bytes.size();
  if (std::fclose(f) != 0 || !ok) return absl::InternalError(absl::StrCat("cannot write ", items_path));
  try {
    graph_->hnsw->saveIndex(index_path);
  } catch (const std::exception& e) {
    return absl::InternalError(absl::StrCat("cannot write ", index_path, ": ", e.what()));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<HnswIndex>> HnswIndex::Load(const std::string& items_path,
                                                           const std::string& index_path, int ef_search) {
  std::FILE* f = std::fopen(items_path.c_str(), "rb");
  if (f == nullptr) return absl::NotFoundError(absl::StrCat("no item file at ", items_path));
  std::string bytes;
  char buf[1 << 16];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof(buf), f)) > 0) bytes.append(buf, n);
  std::fclose(f);
  auto corrupt = [&](absl::string_view why) {
    return absl::DataLossError(absl::StrCat(items_path, ": ", why));
  };
  if (bytes.size() < 28 || std::memcmp(bytes.data(), kItemsMagic, 8) != 0) return corrupt("not a vrec item file");
  uint32_t version, dim, crc;
  uint64_t count;
  std::memcpy(&version, bytes.data() + 8, 4);
  std::memcpy(&dim, bytes.data() + 12, 4);
  std::memcpy(&count, bytes.data() + 16, 8);
  if (version != kItemsVersion) return corrupt(absl::StrCat("format version ", version, " is not supported"));
  if (dim == 0 || dim > 4096) return corrupt(absl::StrCat("bad dimension ", dim));
  // 24 header bytes, count ids and count x dim floats, the CRC; the count is checked by division
  // first, so that a crafted one cannot overflow the product.
  const uint64_t per_item = 4 + uint64_t{dim} * 4;
  if (count > (bytes.size() - 28) / per_item || bytes.size() != 28 + count * per_item) return corrupt("truncated");
  std::memcpy(&crc, bytes.data() + bytes.size() - 4, 4);
  if (crc != Crc32c(bytes.data(), bytes.size() - 4)) return corrupt("checksum mismatch");
  std::unique_ptr<HnswIndex> index(new HnswIndex());
  index->dim_ = static_cast<int>(dim);
  index->ids_.resize(count);
  index->embeddings_.resize(count * dim);
  std::memcpy(index->ids_.data(), bytes.data() + 24, count * 4);
  std::memcpy(index->embeddings_.data(), bytes.data() + 24 + count * 4, count * dim * 4);
  if (!std::is_sorted(index->ids_.begin(), index->ids_.end()) ||
      std::adjacent_find(index->ids_.begin(), index->ids_.end()) != index->ids_.end()) {
    return corrupt("video ids are not strictly ascending");
  }
  index->BuildLookup();
  VREC_RETURN_IF_ERROR(CheckHnswHeader(index_path, count, dim));
  index->graph_ = std::make_unique<Graph>(static_cast<int>(dim));
  try {
    index->graph_->hnsw =
        std::make_unique<hnswlib::HierarchicalNSW<float>>(&index->graph_->space, index_path, false, count);
    if (index->graph_->hnsw->cur_element_count != count) return corrupt("index and item file disagree");
    VREC_RETURN_IF_ERROR(CheckHnswGraph(*index->graph_->hnsw, count, index_path));
    index->ef_search_ = std::max(1, ef_search);
  } catch (const std::exception& e) {
    return absl::DataLossError(absl::StrCat("cannot load HNSW index ", index_path, ": ", e.what()));
  }
  return index;
}

void HnswIndex::Search(const float* query, int k, std::vector<ScoredVideo>* out, int ef) const {
  out->clear();
  if (k <= 0 || ids_.empty()) return;
  // hnswlib's searchKnn, with a per-query beam width and without its shared atomic counters
  // (which made concurrent searches contend): greedy descent through the upper layers, then
  // the beam search of the base layer.
  const hnswlib::HierarchicalNSW<float>& h = *graph_->hnsw;
  hnswlib::tableint current = h.enterpoint_node_;
  float current_distance = h.fstdistfunc_(query, h.getDataByInternalId(current), h.dist_func_param_);
  for (int level = h.maxlevel_; level > 0; --level) {
    for (bool changed = true; changed;) {
      changed = false;
      unsigned int* links = h.get_linklist(current, level);
      const int size = h.getListCount(links);
      const hnswlib::tableint* neighbours = links + 1;
      for (int i = 0; i < size; ++i) {
        const float d = h.fstdistfunc_(query, h.getDataByInternalId(neighbours[i]), h.dist_func_param_);
        if (d < current_distance) {
          current_distance = d;
          current = neighbours[i];
          changed = true;
        }
      }
    }
  }
  const size_t beam = std::max<size_t>(ef > 0 ? ef : ef_search_, k);
  auto top = h.searchBaseLayerST<false, false>(current, query, beam);
  while (top.size() > static_cast<size_t>(k)) top.pop();
  out->resize(top.size());
  for (size_t i = top.size(); i-- > 0;) {  // the queue pops the farthest first
    (*out)[i] = {ids_[h.getExternalLabel(top.top().second)], 1.0f - top.top().first};
    top.pop();
  }
}

void HnswIndex::ExactSearch(const float* query, int k, std::vector<ScoredVideo>* out) const {
  out->clear();
  const size_t top = std::min<size_t>(std::max(k, 0), ids_.size());
  if (top == 0) return;
  // One pass with a size-k min-heap: most rows fail the comparison with the heap's minimum.
  auto worse = [](const std::pair<float, uint32_t>& a, const std::pair<float, uint32_t>& b) {
    return a.first != b.first ? a.first > b.first : a.second < b.second;
  };
  std::vector<std::pair<float, uint32_t>> heap;
  heap.reserve(top + 1);
  for (size_t i = 0; i < ids_.size(); ++i) {
    const float score = InnerProduct(query, &embeddings_[i * dim_], dim_);
    if (heap.size() == top && score <= heap.front().first) continue;
    heap.emplace_back(score, static_cast<uint32_t>(i));
    std::push_heap(heap.begin(), heap.end(), worse);
    if (heap.size() > top) {
      std::pop_heap(heap.begin(), heap.end(), worse);
      heap.pop_back();
    }
  }
  std::sort_heap(heap.begin(), heap.end(), worse);
  for (const auto& [score, i] : heap) out->push_back({ids_[i], score});
}

void HnswIndex::set_ef_search(int ef) { ef_search_ = std::max(1, ef); }

void HnswIndex::BuildLookup() {
  row_of_.clear();
  if (ids_.empty() || uint64_t{ids_.back()} >= 4 * uint64_t{ids_.size()} + 1024) return;
  row_of_.assign(size_t{ids_.back()} + 1, 0);
  for (size_t i = 0; i < ids_.size(); ++i) row_of_[ids_[i]] = static_cast<uint32_t>(i + 1);
}

const float* HnswIndex::Embedding(VideoId video) const {
  if (!row_of_.empty()) {
    if (video >= row_of_.size() || row_of_[video] == 0) return nullptr;
    return &embeddings_[size_t{row_of_[video] - 1} * dim_];
  }
  const auto it = std::lower_bound(ids_.begin(), ids_.end(), video);
  if (it == ids_.end() || *it != video) return nullptr;
  return &embeddings_[static_cast<size_t>(it - ids_.begin()) * dim_];
}

size_t HnswIndex::memory_bytes() const {
  const auto& h = *graph_->hnsw;
  return embeddings_.size() * 4 + ids_.size() * 4 + row_of_.size() * 4 + h.max_elements_ * h.size_data_per_element_ +
         h.max_elements_ * sizeof(void*);
}

double MeasureRecall(const HnswIndex& index, absl::Span<const float> queries, int k) {
  const size_t n = queries.size() / index.dim();
  if (n == 0) return 0.0;
  std::vector<ScoredVideo> approx, exact;
  double total = 0.0;
  for (size_t q = 0; q < n; ++q) {
    const float* query = queries.data() + q * index.dim();
    index.Search(query, k, &approx);
    index.ExactSearch(query, k, &exact);
    if (exact.empty()) {
      total += 1.0;
      continue;
    }
    // Tie-aware: a result scoring at least the exact k-th score is a true top-k result (many
    // videos can share a score, and then which of them the exact list holds is arbitrary).
    const float kth = exact.back().score - 1e-6f;
    size_t hits = 0;
    for (const ScoredVideo& s : approx) hits += s.score >= kth;
    total += double(std::min(hits, exact.size())) / exact.size();
  }
  return total / n;
}

}  // namespace vrec::retrieval
