#include "featurestore/feature_replay.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>

#include "absl/strings/str_cat.h"
#include "common/event_log.h"
#include "common/status.h"
#include "featurestore/schema.h"

namespace vrec::featurestore {
namespace {

const UserFeatures& DefaultUser() {
  static const UserFeatures* user = new UserFeatures();
  return *user;
}

const VideoFeatures& DefaultVideo() {
  static const VideoFeatures* video = new VideoFeatures();
  return *video;
}

template <typename T>
T* Slot(std::vector<T>& v, uint32_t id) {
  if (id >= v.size()) {
    const size_t old = v.size();
    v.resize(std::max<size_t>(size_t{id} + 1, v.size() + v.size() / 2));
    for (size_t i = old; i < v.size(); ++i) v[i].id = kInvalidId;
  }
  if (v[id].id == kInvalidId) v[id].id = id;
  return &v[id];
}

}  // namespace

FeatureReplay::FeatureReplay(const Catalog& catalog, const FeatureUpdateOptions& options)
    : options_(options) {
  users_.resize(catalog.user_id_limit());
  for (UserFeatures& u : users_) u.id = kInvalidId;
  for (const User& u : catalog.users()) users_[u.id] = UserFeaturesFromCatalog(u);
  videos_.resize(catalog.video_id_limit());
  for (VideoFeatures& v : videos_) v.id = kInvalidId;
  for (const Video& v : catalog.videos()) videos_[v.id] = VideoFeaturesFromCatalog(v);
}

UserFeatures* FeatureReplay::MutableUser(UserId id) { return Slot(users_, id); }
VideoFeatures* FeatureReplay::MutableVideo(VideoId id) { return Slot(videos_, id); }

void FeatureReplay::Apply(const Event& event) {
  ApplyEvent(event, options_, MutableUser(event.user_id), MutableVideo(event.video_id));
  ++applied_;
  last_event_ms_ = std::max(last_event_ms_, event.timestamp_ms);
}

const UserFeatures& FeatureReplay::user(UserId id) const {
  return id < users_.size() && users_[id].id == id ? users_[id] : DefaultUser();
}

const VideoFeatures& FeatureReplay::video(VideoId id) const {
  return id < videos_.size() && videos_[id].id == id ? videos_[id] : DefaultVideo();
}

std::vector<const UserFeatures*> FeatureReplay::AllUsers() const {
  std::vector<const UserFeatures*> out;
  for (const UserFeatures& u : users_) {
    if (u.id != kInvalidId) out.push_back(&u);
  }
  return out;
}

std::vector<const VideoFeatures*> FeatureReplay::AllVideos() const {
  std::vector<const VideoFeatures*> out;
  for (const VideoFeatures& v : videos_) {
    if (v.id != kInvalidId) out.push_back(&v);
  }
  return out;
}

absl::StatusOr<FeaturizeSummary> Featurize(const std::string& world_dir, const std::string& store_dir,
                                           const FeaturizeOptions& options) {
  VREC_ASSIGN_OR_RETURN(WorldManifest manifest, ReadWorldManifest(world_dir));
  VREC_ASSIGN_OR_RETURN(Catalog catalog, ReadCatalog(world_dir));
  FeatureReplay replay(catalog, options.update);
  FeaturizeSummary summary;
  const auto start = std::chrono::steady_clock::now();
  std::vector<uint64_t> event_ids;  // of the events posted with one: retries stay recognised
  {
    VREC_ASSIGN_OR_RETURN(std::unique_ptr<EventLogReader> reader,
                          EventLogReader::Open(WorldEventsPath(world_dir)));
    Progress progress("featurize", manifest.num_events, "events", options.show_progress);
    bool done = false;
    while (!done) {
      VREC_ASSIGN_OR_RETURN(absl::Span<const Event> block, reader->NextBlock());
      if (block.empty()) break;
      const absl::Span<const uint64_t> ids = reader->block_event_ids();
      for (size_t i = 0; i < block.size(); ++i) {
        const Event& e = block[i];
        if (e.timestamp_ms >= options.as_of_ms) {
          done = true;  // the store reflects a prefix of the log
          break;
        }
        ++summary.events_read;
        if (!ids.empty() && ids[i] != 0) event_ids.push_back(ids[i]);
        if (!options.keep || options.keep(e)) replay.Apply(e);
      }
      progress.Update(summary.events_read);
    }
    progress.Finish(summary.events_read);
  }
  const auto replayed = std::chrono::steady_clock::now();
  summary.replay_seconds = std::chrono::duration<double>(replayed - start).count();

  namespace fs = std::filesystem;
  const std::string building = store_dir + ".building";
  std::error_code ec;
  fs::remove_all(building, ec);
  {
    VREC_ASSIGN_OR_RETURN(std::unique_ptr<FeatureStore> store, FeatureStore::Create(building, options.store));
    const std::vector<const UserFeatures*> users = replay.AllUsers();
    // A store as of a given time holds no video uploaded at or after it.
    std::vector<const VideoFeatures*> videos = replay.AllVideos();
    if (options.as_of_ms != INT64_MAX) {
      videos.erase(std::remove_if(videos.begin(), videos.end(),
                                  [&](const VideoFeatures* v) { return v->known && v->upload_ms >= options.as_of_ms; }),
                   videos.end());
    }
    FeatureWriteBatch batch;
    batch.watermark = summary.events_read;
    batch.as_of_ms = options.as_of_ms != INT64_MAX ? options.as_of_ms : replay.last_event_ms();
    FeatureWriteOptions bulk;
    bulk.disable_wal = true;
    constexpr size_t kChunk = 20000;
    for (size_t i = 0; i < std::max(users.size(), videos.size()); i += kChunk) {
      batch.users.assign(users.begin() + std::min(i, users.size()),
                         users.begin() + std::min(i + kChunk, users.size()));
      batch.videos.assign(videos.begin() + std::min(i, videos.size()),
                          videos.begin() + std::min(i + kChunk, videos.size()));
      VREC_RETURN_IF_ERROR(store->Write(batch, bulk));
    }
    batch.users.clear();
    batch.videos.clear();
    for (size_t i = 0; i < event_ids.size(); i += 100 * kChunk) {
      batch.event_ids.assign(event_ids.begin() + i, event_ids.begin() + std::min(i + 100 * kChunk, event_ids.size()));
      VREC_RETURN_IF_ERROR(store->Write(batch, bulk));
    }
    VREC_RETURN_IF_ERROR(store->Compact());
    // For scripts (tools/quickstart.sh): the schema this store was written with.
    std::ofstream marker(building + "/SCHEMA");
    marker << static_cast<int>(kFeatureSchemaVersion) << "\n";
    if (!marker.good()) return absl::InternalError(absl::StrCat("cannot write ", building, "/SCHEMA"));
    summary.users = users.size();
    summary.videos = videos.size();
  }
  // Swap the complete store into place.
  const std::string old = store_dir + ".old";
  fs::remove_all(old, ec);
  if (fs::exists(store_dir)) {
    fs::rename(store_dir, old, ec);
    if (ec) return absl::InternalError(absl::StrCat("cannot move aside ", store_dir, ": ", ec.message()));
  }
  fs::rename(building, store_dir, ec);
  if (ec) return absl::InternalError(absl::StrCat("cannot rename ", building, " to ", store_dir, ": ", ec.message()));
  fs::remove_all(old, ec);
  summary.events_applied = replay.applied();
  summary.as_of_ms = options.as_of_ms != INT64_MAX ? options.as_of_ms : replay.last_event_ms();
  summary.write_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - replayed).count();
  return summary;
}

absl::Status ForEachPointInTimeExample(
    const std::string& world_dir, const Catalog& catalog, const FeatureUpdateOptions& options,
    TimestampMs until_ms, const std::function<bool(const Event&)>& want,
    const std::function<absl::Status(const Event&, const UserFeatures&, const VideoFeatures&)>& emit) {
  FeatureReplay replay(catalog, options);
  VREC_ASSIGN_OR_RETURN(std::unique_ptr<EventLogReader> reader, EventLogReader::Open(WorldEventsPath(world_dir)));
  while (true) {
    VREC_ASSIGN_OR_RETURN(absl::Span<const Event> block, reader->NextBlock());
    if (block.empty()) return absl::OkStatus();
    for (const Event& e : block) {
      if (e.timestamp_ms >= until_ms) return absl::OkStatus();
      if (want(e)) VREC_RETURN_IF_ERROR(emit(e, replay.user(e.user_id), replay.video(e.video_id)));
      replay.Apply(e);
    }
  }
}

}  // namespace vrec::featurestore
