#include "retrieval/collaborative.h"

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "absl/strings/str_cat.h"
#include "common/crc32c.h"

namespace vrec::retrieval {
namespace {

constexpr char kMagic[8] = {'V', 'R', 'E', 'C', 'C', 'O', 'L', '2'};
constexpr char kMagicV1[8] = {'V', 'R', 'E', 'C', 'C', 'O', 'L', '1'};  // no dense EASE section
constexpr int kTransitionInputs = 3;  // the last engaged videos transitions expand

template <typename T>
void Put(std::string* out, T v) {
  out->append(reinterpret_cast<const char*>(&v), sizeof(v));
}
template <typename T>
void PutVector(std::string* out, const std::vector<T>& v) {
  out->append(reinterpret_cast<const char*>(v.data()), v.size() * sizeof(T));
}
template <typename T>
bool Get(absl::string_view bytes, size_t* pos, T* v) {
  if (bytes.size() - *pos < sizeof(T)) return false;
  std::memcpy(v, bytes.data() + *pos, sizeof(T));
  *pos += sizeof(T);
  return true;
}
template <typename T>
bool GetVector(absl::string_view bytes, size_t* pos, uint64_t n, std::vector<T>* v) {
  if (n > (bytes.size() - *pos) / sizeof(T)) return false;  // no overflow: divide, not multiply
  v->resize(n);
  std::memcpy(v->data(), bytes.data() + *pos, n * sizeof(T));
  *pos += n * sizeof(T);
  return true;
}

}  // namespace

const char* CollabTableName(int table) {
  static constexpr const char* kNames[] = {"item_knn", "ease", "transitions"};
  return table >= 0 && table < kNumCollabTables ? kNames[table] : "unknown";
}

void NeighbourTable::AddRow(VideoId video, absl::Span<const ScoredVideo> neighbours) {
  keys_.push_back(video);
  for (const ScoredVideo& n : neighbours) {
    neighbours_.push_back(n.video);
    weights_.push_back(n.score);
  }
  offsets_.push_back(static_cast<uint32_t>(neighbours_.size()));
}

void NeighbourTable::Finish() {
  row_.clear();
  row_.reserve(keys_.size());
  for (uint32_t i = 0; i < keys_.size(); ++i) row_.emplace(keys_[i], i);
}

NeighbourTable::Row NeighbourTable::Find(VideoId video) const {
  auto it = row_.find(video);
  if (it == row_.end()) return {};
  const uint32_t begin = offsets_[it->second], size = offsets_[it->second + 1] - begin;
  return {absl::MakeConstSpan(neighbours_.data() + begin, size), absl::MakeConstSpan(weights_.data() + begin, size)};
}

size_t NeighbourTable::memory_bytes() const {
  return keys_.size() * (sizeof(VideoId) + sizeof(uint32_t) + 2 * sizeof(std::pair<VideoId, uint32_t>)) +
         neighbours_.size() * (sizeof(VideoId) + sizeof(float));
}

void NeighbourTable::AppendTo(std::string* out) const {
  Put<uint64_t>(out, keys_.size());
  Put<uint64_t>(out, neighbours_.size());
  PutVector(out, keys_);
  PutVector(out, offsets_);
  PutVector(out, neighbours_);
  PutVector(out, weights_);
}

absl::Status NeighbourTable::ReadFrom(absl::string_view bytes, size_t* pos) {
  uint64_t rows = 0, entries = 0;
  const bool ok = Get(bytes, pos, &rows) && Get(bytes, pos, &entries) && entries <= UINT32_MAX &&
                  rows < UINT64_MAX && GetVector(bytes, pos, rows, &keys_) &&
                  GetVector(bytes, pos, rows + 1, &offsets_) && GetVector(bytes, pos, entries, &neighbours_) &&
                  GetVector(bytes, pos, entries, &weights_);
  if (!ok) return absl::DataLossError("truncated collaborative table");
  if (offsets_.front() != 0 || offsets_.back() != entries ||
      !std::is_sorted(offsets_.begin(), offsets_.end())) {
    return absl::DataLossError("collaborative table offsets out of range");
  }
  Finish();
  if (row_.size() != keys_.size()) return absl::DataLossError("collaborative table repeats a video");
  return absl::OkStatus();
}

void CollabInput(int table, absl::Span<const VideoId> engaged, std::vector<ScoredVideo>* out) {
  out->clear();
  if (table == kCollabTransitions) {
    for (int i = 0; i < kTransitionInputs && i < static_cast<int>(engaged.size()); ++i) {
      out->push_back({engaged[engaged.size() - 1 - i], 1.0f / (1 + i)});
    }
    return;
  }
  out->reserve(engaged.size());
  for (VideoId v : engaged) out->push_back({v, 1.0f});
}

void CollabScore(const NeighbourTable& table, absl::Span<const ScoredVideo> input, absl::Span<const VideoId> skip,
                 size_t n, std::vector<ScoredVideo>* out) {
  thread_local absl::flat_hash_map<VideoId, float> scores;
  thread_local std::vector<VideoId> inputs;
  scores.clear();
  inputs.clear();
  for (const ScoredVideo& in : input) {
    inputs.push_back(in.video);
    const NeighbourTable::Row row = table.Find(in.video);
    for (size_t i = 0; i < row.neighbours.size(); ++i) scores[row.neighbours[i]] += in.score * row.weights[i];
  }
  std::sort(inputs.begin(), inputs.end());
  const size_t start = out->size();
  for (const auto& [video, score] : scores) {
    if (score <= 0 || std::binary_search(inputs.begin(), inputs.end(), video) ||
        std::binary_search(skip.begin(), skip.end(), video)) {
      continue;
    }
    out->push_back({video, score});
  }
  KeepBest(start, n, out);
}

void DenseEaseScore(const DenseEase& ease, absl::Span<const ScoredVideo> input, absl::Span<const VideoId> skip,
                    size_t n, std::vector<ScoredVideo>* out) {
  const size_t m = ease.videos.size();
  thread_local std::vector<float> score;
  thread_local std::vector<int> own;
  score.assign(m, 0.0f);
  own.clear();
  for (const ScoredVideo& in : input) {
    const auto it = ease.column.find(in.video);
    if (it == ease.column.end()) continue;
    own.push_back(it->second);
    const float* row = ease.weights.data() + size_t{static_cast<uint32_t>(it->second)} * m;
    for (size_t j = 0; j < m; ++j) score[j] += in.score * row[j];
  }
  if (own.empty()) return;
  std::sort(own.begin(), own.end());
  const size_t start = out->size();
  for (size_t j = 0; j < m; ++j) {
    const VideoId video = ease.videos[j];
    if (std::binary_search(own.begin(), own.end(), static_cast<int>(j)) ||
        std::binary_search(skip.begin(), skip.end(), video)) {
      continue;
    }
    out->push_back({video, score[j]});
  }
  KeepBest(start, n, out);
}

absl::Status SaveCollaborative(const CollaborativeModel& model, const std::string& path) {
  std::string bytes(kMagic, sizeof(kMagic));
  for (const NeighbourTable& t : model.tables) t.AppendTo(&bytes);
  Put<uint64_t>(&bytes, model.ease_dense.videos.size());
  PutVector(&bytes, model.ease_dense.videos);
  PutVector(&bytes, model.ease_dense.weights);
  Put<uint32_t>(&bytes, Crc32c(bytes.data(), bytes.size()));
  const std::string tmp = path + ".tmp";
  {
    std::ofstream f(tmp, std::ios::binary | std::ios::trunc);
    f.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    f.flush();
    if (!f.good()) return absl::InternalError(absl::StrCat("cannot write ", tmp));
  }
  std::error_code ec;
  std::filesystem::rename(tmp, path, ec);
  if (ec) return absl::InternalError(absl::StrCat("cannot rename ", tmp, " to ", path, ": ", ec.message()));
  return absl::OkStatus();
}

absl::StatusOr<std::shared_ptr<const CollaborativeModel>> LoadCollaborative(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) return absl::NotFoundError(absl::StrCat("cannot open ", path));
  std::string bytes;
  f.seekg(0, std::ios::end);
  bytes.resize(static_cast<size_t>(std::max<std::streamoff>(0, f.tellg())));
  f.seekg(0);
  f.read(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  if (!f) return absl::DataLossError(absl::StrCat("cannot read ", path));
  const bool v1 = bytes.size() >= sizeof(kMagicV1) && std::memcmp(bytes.data(), kMagicV1, sizeof(kMagicV1)) == 0;
  if (bytes.size() < sizeof(kMagic) + 4 || (!v1 && std::memcmp(bytes.data(), kMagic, sizeof(kMagic)) != 0)) {
    return absl::DataLossError(absl::StrCat(path, " is not a vrec collaborative model"));
  }
  uint32_t crc = 0;
  std::memcpy(&crc, bytes.data() + bytes.size() - 4, 4);
  if (crc != Crc32c(bytes.data(), bytes.size() - 4)) {
    return absl::DataLossError(absl::StrCat(path, ": checksum mismatch"));
  }
  const absl::string_view body(bytes.data(), bytes.size() - 4);
  auto model = std::make_shared<CollaborativeModel>();
  size_t pos = sizeof(kMagic);
  for (NeighbourTable& t : model->tables) {
    if (absl::Status s = t.ReadFrom(body, &pos); !s.ok()) return absl::DataLossError(absl::StrCat(path, ": ", s.message()));
  }
  if (!v1) {
    DenseEase& ease = model->ease_dense;
    uint64_t n = 0;
    // n^2 floats must fit in what is left (n below 2^32 keeps n * n from overflowing).
    if (!Get(body, &pos, &n) || n >= (uint64_t{1} << 31) || !GetVector(body, &pos, n, &ease.videos) ||
        !GetVector(body, &pos, n * n, &ease.weights)) {
      return absl::DataLossError(absl::StrCat(path, ": truncated dense EASE weights"));
    }
    ease.column.reserve(n);
    for (uint64_t i = 0; i < n; ++i) ease.column.emplace(ease.videos[i], static_cast<int>(i));
    if (ease.column.size() != n) return absl::DataLossError(absl::StrCat(path, ": dense EASE repeats a video"));
  }
  if (pos != body.size()) return absl::DataLossError(absl::StrCat(path, ": trailing bytes"));
  return std::shared_ptr<const CollaborativeModel>(std::move(model));
}

}  // namespace vrec::retrieval
