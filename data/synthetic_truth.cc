#include "data/synthetic_truth.h"

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>

#include "absl/strings/str_cat.h"
#include "common/status.h"

namespace vrec::data {
namespace {

constexpr char kMagic[8] = {'V', 'R', 'E', 'C', 'T', 'R', 'U', 'E'};
constexpr uint32_t kVersion = 1;

struct FileCloser {
  void operator()(std::FILE* f) const { std::fclose(f); }
};
using File = std::unique_ptr<std::FILE, FileCloser>;

template <typename T>
bool WriteVec(std::FILE* f, const std::vector<T>& v) {
  return std::fwrite(v.data(), sizeof(T), v.size(), f) == v.size();
}

template <typename T>
bool ReadVec(std::FILE* f, std::vector<T>* v, size_t n) {
  v->resize(n);
  return std::fread(v->data(), sizeof(T), n, f) == n;
}

}  // namespace

float SyntheticTruth::Affinity(UserId u, VideoId v) const {
  const float* t = taste(u);
  const float best = *std::max_element(t, t + num_topics);
  const float mix = kMainTopicWeight * t[video_topic[v]] +
                    (1.0f - kMainTopicWeight) * t[video_topic2[v]];
  return best > 0.0f ? mix / best : 0.0f;
}

float SyntheticTruth::ClickProbability(UserId u, VideoId v) const {
  float logit = model.click_bias + model.affinity_weight * Affinity(u, v) +
                model.quality_weight * video_quality[v];
  if (user_language[u] != video_language[v]) logit += model.language_mismatch;
  return 1.0f / (1.0f + std::exp(-logit));
}

absl::Status WriteSyntheticTruth(const std::string& path, const SyntheticTruth& t) {
  File f(std::fopen(path.c_str(), "wb"));
  if (!f) return absl::InternalError(absl::StrCat("cannot write ", path, ": ", std::strerror(errno)));
  const uint64_t counts[3] = {static_cast<uint64_t>(t.num_topics), t.num_users(), t.num_videos()};
  bool ok = std::fwrite(kMagic, 1, 8, f.get()) == 8 &&
            std::fwrite(&kVersion, 4, 1, f.get()) == 1 &&
            std::fwrite(counts, 8, 3, f.get()) == 3 &&
            std::fwrite(&t.model, sizeof(BehaviourModel), 1, f.get()) == 1;
  ok = ok && WriteVec(f.get(), t.user_taste) && WriteVec(f.get(), t.user_language) &&
       WriteVec(f.get(), t.video_topic) && WriteVec(f.get(), t.video_topic2) &&
       WriteVec(f.get(), t.video_quality) && WriteVec(f.get(), t.video_popularity) &&
       WriteVec(f.get(), t.video_language) && WriteVec(f.get(), t.video_upload_ms);
  if (!ok || std::fflush(f.get()) != 0) return absl::InternalError(absl::StrCat("cannot write ", path));
  return absl::OkStatus();
}

absl::StatusOr<SyntheticTruth> ReadSyntheticTruth(const std::string& path) {
  File f(std::fopen(path.c_str(), "rb"));
  if (!f) {
    return absl::NotFoundError(absl::StrCat(
        "no synthetic truth at ", path, " (only worlds made by `vrec generate` have one)"));
  }
  char magic[8];
  uint32_t version = 0;
  uint64_t counts[3];
  if (std::fread(magic, 1, 8, f.get()) != 8 || std::memcmp(magic, kMagic, 8) != 0) {
    return absl::InvalidArgumentError(absl::StrCat(path, " is not a synthetic truth file"));
  }
  if (std::fread(&version, 4, 1, f.get()) != 1 || version != kVersion) {
    return absl::InvalidArgumentError(
        absl::StrCat(path, ": truth format version ", version, " is not supported"));
  }
  SyntheticTruth t;
  if (std::fread(counts, 8, 3, f.get()) != 3 ||
      std::fread(&t.model, sizeof(BehaviourModel), 1, f.get()) != 1 || counts[0] == 0 ||
      counts[0] > 4096) {
    return absl::DataLossError(absl::StrCat(path, ": truncated or corrupt header"));
  }
  t.num_topics = static_cast<int>(counts[0]);
  const size_t users = counts[1], videos = counts[2];
  const bool ok = ReadVec(f.get(), &t.user_taste, users * t.num_topics) &&
                  ReadVec(f.get(), &t.user_language, users) &&
                  ReadVec(f.get(), &t.video_topic, videos) &&
                  ReadVec(f.get(), &t.video_topic2, videos) &&
                  ReadVec(f.get(), &t.video_quality, videos) &&
                  ReadVec(f.get(), &t.video_popularity, videos) &&
                  ReadVec(f.get(), &t.video_language, videos) &&
                  ReadVec(f.get(), &t.video_upload_ms, videos);
  if (!ok) return absl::DataLossError(absl::StrCat(path, ": truncated"));
  return t;
}

}  // namespace vrec::data
