// The online feature store: user features, video features and per-user recent history in
// RocksDB, one column family each, read on the request path (one MultiGet per stage) and
// written by `vrec featurize` (bulk) and by event ingestion (POST /v1/events).
//
// Layout: column families "users", "videos", "history" keyed by the 4-byte big-endian id;
// values in the versioned encoding of featurestore/schema.h. The default column family holds
// metadata: "vrec.schema_version", "vrec.watermark" (how many events of the world's event log
// the store reflects; written atomically with the updates) and "vrec.as_of_ms".
//
// Reads report, per feature group, whether the value is present, stale (older than its TTL)
// or missing; missing values read as the defaults of UserFeatures / VideoFeatures (empty
// strings, zero counters, empty history, unknown creator).
#ifndef VREC_FEATURESTORE_FEATURE_STORE_H_
#define VREC_FEATURESTORE_FEATURE_STORE_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/types/span.h"
#include "featurestore/feature_view.h"
#include "featurestore/features.h"

namespace rocksdb {
class DB;
class ColumnFamilyHandle;
}  // namespace rocksdb

namespace vrec::featurestore {

struct FeatureStoreOptions {
  // Shared LRU block cache for all column families. Default 256 MiB.
  size_t block_cache_bytes = 256ull << 20;
  // Bloom filter bits per key (0 disables). Default 10 (~1% false positives).
  int bloom_bits_per_key = 10;
  // Block compression: "none", "snappy", "lz4" or "zstd". Default "lz4".
  std::string compression = "lz4";
  // Memtable size per column family. Default 64 MiB.
  size_t write_buffer_bytes = 64ull << 20;
  // When reads report a feature group as stale.
  FeatureTtlOptions ttl;
  // Open without the write lock, as a snapshot of the store at open time (offline jobs that
  // read while a server writes: build-index, benchmarks). Writes fail. Ignored by Create.
  bool read_only = false;
  // Keep every video's decoded features in memory, written through by Write(): GetVideos and
  // GetVideoFeatures then never touch RocksDB (a feed reads ~500 videos per request). Costs a
  // scan of the videos at open and ~300 bytes per video. The server turns it on.
  bool cache_videos = false;
};

struct FeatureWriteOptions {
  bool sync = false;         // wait for RocksDB's WAL to reach the disk
  bool disable_wal = false;  // bulk loads that end with Compact() need no WAL
};

// A set of writes applied atomically with a new watermark.
struct FeatureWriteBatch {
  std::vector<const UserFeatures*> users;  // written with their history
  std::vector<const VideoFeatures*> videos;
  uint64_t watermark = 0;
  TimestampMs as_of_ms = 0;
  // EventIdHash of the batch's events sent with an event_id: remembered, so that a client's
  // retry of them is recognised (ContainsEventIds).
  std::vector<uint64_t> event_ids;
};

// The online FeatureView. Thread-safe: reads run concurrently with each other and with Write().
class FeatureStore : public FeatureView {
 public:
  // Opens an existing store. NotFound if `dir` does not exist; InvalidArgument if it is not a
  // vrec feature store (not RocksDB, or missing column families or metadata);
  // FailedPrecondition on another schema version; DataLoss if RocksDB reports corruption.
  static absl::StatusOr<std::unique_ptr<FeatureStore>> Open(const std::string& dir,
                                                            const FeatureStoreOptions& options);
  // Creates an empty store; FailedPrecondition if `dir` already exists.
  static absl::StatusOr<std::unique_ptr<FeatureStore>> Create(const std::string& dir,
                                                              const FeatureStoreOptions& options);
  ~FeatureStore() override;

  // One MultiGet over the users and history column families.
  absl::StatusOr<UserRead> GetUser(UserId id, TimestampMs now_ms) const override;
  // One MultiGet over the videos column family (or the in-memory cache); `out` gets one entry
  // per id, in order.
  [[nodiscard]] absl::Status GetVideos(absl::Span<const VideoId> ids, TimestampMs now_ms,
                                       std::vector<VideoRead>* out) const override;
  // Raw features (no status), for read-modify-write by ingestion: found[i] says whether
  // ids[i] exists.
  [[nodiscard]] absl::Status GetVideoFeatures(absl::Span<const VideoId> ids,
                                              std::vector<VideoFeatures>* out,
                                              std::vector<bool>* found) const;
  [[nodiscard]] absl::Status GetUserFeatures(absl::Span<const UserId> ids,
                                             std::vector<UserFeatures>* out) const;

  // known[i]: whether event_ids[i] was written by an earlier Write (one MultiGet). Ids are
  // kept for the life of the store, about 20 bytes each on disk.
  [[nodiscard]] absl::Status ContainsEventIds(absl::Span<const uint64_t> event_ids, std::vector<bool>* known) const;
  // Applies the batch atomically.
  [[nodiscard]] absl::Status Write(const FeatureWriteBatch& batch, const FeatureWriteOptions& options);
  // Calls fn for every video in id order; stops at the first error.
  [[nodiscard]] absl::Status ForEachVideo(const std::function<absl::Status(const VideoFeatures&)>& fn) const override;
  // Flushes memtables and compacts everything to the last level (after a bulk load).
  [[nodiscard]] absl::Status Compact();
  // A consistent copy of the store at `dir` (hard links where possible); `dir` must not exist.
  [[nodiscard]] absl::Status Checkpoint(const std::string& dir) const;

  uint64_t watermark() const;
  TimestampMs as_of_ms() const;
  const FeatureStoreOptions& options() const { return options_; }

 private:
  explicit FeatureStore(const FeatureStoreOptions& options);
  static absl::StatusOr<std::unique_ptr<FeatureStore>> OpenImpl(const std::string& dir,
                                                                const FeatureStoreOptions& options,
                                                                bool create);
  absl::Status ReadMeta();
  // One MultiGet on the videos column family; calls found(i, value) for each id that exists.
  absl::Status MultiGetVideos(absl::Span<const VideoId> ids,
                              const std::function<absl::Status(size_t, absl::string_view)>& found) const;

  FeatureStoreOptions options_;
  std::string dir_;
  std::unique_ptr<rocksdb::DB> db_;
  std::vector<rocksdb::ColumnFamilyHandle*> handles_;  // default, users, videos, history
  std::atomic<uint64_t> watermark_{0};
  std::atomic<TimestampMs> as_of_ms_{0};
  // With options_.cache_videos: decoded videos by id (id kInvalidId: absent).
  mutable absl::Mutex cache_mu_;
  std::vector<VideoFeatures> video_cache_ ABSL_GUARDED_BY(cache_mu_);
};

}  // namespace vrec::featurestore

#endif  // VREC_FEATURESTORE_FEATURE_STORE_H_
