#include "featurestore/feature_store.h"

#include <algorithm>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "common/status.h"
#include "common/world.h"
#include "featurestore/schema.h"
#include "rocksdb/cache.h"
#include "rocksdb/db.h"
#include "rocksdb/filter_policy.h"
#include "rocksdb/options.h"
#include "rocksdb/slice_transform.h"
#include "rocksdb/slice.h"
#include "rocksdb/table.h"
#include "rocksdb/utilities/checkpoint.h"
#include "rocksdb/write_batch.h"

namespace vrec::featurestore {
namespace {

constexpr const char* kColumnFamilies[] = {"default", "users", "videos", "history"};
constexpr int kMeta = 0, kUsers = 1, kVideos = 2, kHistory = 3;
constexpr char kSchemaKey[] = "vrec.schema_version";
constexpr char kWatermarkKey[] = "vrec.watermark";
constexpr char kAsOfKey[] = "vrec.as_of_ms";
// An ingested event's id: 'e' and the 8 bytes of its EventIdHash, in the meta column family.
std::string EventIdKey(uint64_t id) {
  std::string key(9, 'e');
  std::memcpy(key.data() + 1, &id, 8);
  return key;
}

// The one place RocksDB statuses become absl::Status.
absl::Status FromRocks(const rocksdb::Status& s, absl::string_view context) {
  if (s.ok()) return absl::OkStatus();
  const std::string message = absl::StrCat(context, ": ", s.ToString());
  if (s.IsNotFound()) return absl::NotFoundError(message);
  if (s.IsCorruption()) return absl::DataLossError(message);
  if (s.IsInvalidArgument()) return absl::InvalidArgumentError(message);
  if (s.IsBusy() || s.IsTryAgain() || s.IsTimedOut()) return absl::UnavailableError(message);
  return absl::InternalError(message);
}

struct Key {
  explicit Key(uint32_t id) {
    bytes[0] = static_cast<char>(id >> 24);
    bytes[1] = static_cast<char>(id >> 16);
    bytes[2] = static_cast<char>(id >> 8);
    bytes[3] = static_cast<char>(id);
  }
  rocksdb::Slice slice() const { return rocksdb::Slice(bytes, 4); }
  char bytes[4];
};

absl::string_view View(const rocksdb::Slice& s) { return absl::string_view(s.data(), s.size()); }

uint32_t IdOf(const rocksdb::Slice& key) {
  const auto* b = reinterpret_cast<const uint8_t*>(key.data());
  return (uint32_t{b[0]} << 24) | (uint32_t{b[1]} << 16) | (uint32_t{b[2]} << 8) | b[3];
}

absl::StatusOr<rocksdb::CompressionType> Compression(const std::string& name) {
  if (name == "none") return rocksdb::kNoCompression;
  if (name == "snappy") return rocksdb::kSnappyCompression;
  if (name == "lz4") return rocksdb::kLZ4Compression;
  if (name == "zstd") return rocksdb::kZSTD;
  return absl::InvalidArgumentError(
      absl::StrCat("unknown compression '", name, "' (none, snappy, lz4 or zstd)"));
}

}  // namespace

FeatureStore::FeatureStore(const FeatureStoreOptions& options) : options_(options) {}

FeatureStore::~FeatureStore() {
  for (rocksdb::ColumnFamilyHandle* h : handles_) {
    if (db_ != nullptr) (void)db_->DestroyColumnFamilyHandle(h);
  }
  if (db_ != nullptr) (void)db_->Close();
}

absl::StatusOr<std::unique_ptr<FeatureStore>> FeatureStore::Open(const std::string& dir,
                                                                 const FeatureStoreOptions& options) {
  if (!PathExists(dir)) {
    return absl::NotFoundError(absl::StrCat(
        "no feature store at ", dir, "; build one with `vrec featurize --world WORLD --store ", dir, "`"));
  }
  if (!PathExists(dir + "/CURRENT")) {
    return absl::InvalidArgumentError(
        absl::StrCat(dir, " is not a feature store (no RocksDB CURRENT file)"));
  }
  return OpenImpl(dir, options, /*create=*/false);
}

absl::StatusOr<std::unique_ptr<FeatureStore>> FeatureStore::Create(const std::string& dir,
                                                                   const FeatureStoreOptions& options) {
  if (PathExists(dir)) {
    return absl::FailedPreconditionError(absl::StrCat("cannot create a feature store at ", dir,
                                                      ": it already exists"));
  }
  return OpenImpl(dir, options, /*create=*/true);
}

absl::StatusOr<std::unique_ptr<FeatureStore>> FeatureStore::OpenImpl(
    const std::string& dir, const FeatureStoreOptions& options, bool create) {
  VREC_ASSIGN_OR_RETURN(const rocksdb::CompressionType compression, Compression(options.compression));
  rocksdb::DBOptions db_options;
  db_options.create_if_missing = create;
  db_options.create_missing_column_families = create;
  db_options.max_background_jobs = 2;
  db_options.keep_log_file_num = 3;
  db_options.allow_mmap_reads = true;  // required by the videos' plain table
  if (!create) {
    std::vector<std::string> names;
    const rocksdb::Status listed = rocksdb::DB::ListColumnFamilies(db_options, dir, &names);
    if (!listed.ok()) return FromRocks(listed, absl::StrCat("cannot read feature store ", dir));
    for (const char* name : kColumnFamilies) {
      if (std::find(names.begin(), names.end(), name) == names.end()) {
        return absl::InvalidArgumentError(absl::StrCat(
            dir, " is a RocksDB database but not a vrec feature store (no '", name, "' column family)"));
      }
    }
  }
  // Tuned for point lookups of random keys (a feed's candidates): a lock-free clock cache for
  // data blocks; index and filter blocks held by the table readers (not looked up in the
  // cache per key); a hash index and short restart intervals inside data blocks.
  rocksdb::BlockBasedTableOptions table;
  table.block_size = 4096;
  table.block_cache = rocksdb::HyperClockCacheOptions(options.block_cache_bytes, table.block_size).MakeSharedCache();
  if (options.bloom_bits_per_key > 0) {
    table.filter_policy.reset(rocksdb::NewBloomFilterPolicy(options.bloom_bits_per_key, false));
  }
  table.cache_index_and_filter_blocks = false;
  table.data_block_index_type = rocksdb::BlockBasedTableOptions::kDataBlockBinaryAndHash;
  table.block_restart_interval = 4;
  rocksdb::ColumnFamilyOptions cf_options;
  cf_options.table_factory.reset(rocksdb::NewBlockBasedTableFactory(table));
  cf_options.compression = compression;
  cf_options.write_buffer_size = options.write_buffer_bytes;
  // Videos are read hundreds at a time per request: a memory-mapped plain table with a hash
  // index on the whole 4-byte key answers a point lookup without block iterators or cache
  // probes (uncompressed, ~150 bytes per video).
  rocksdb::PlainTableOptions plain;
  plain.user_key_len = 4;
  plain.bloom_bits_per_key = 0;
  plain.hash_table_ratio = 0.75;
  plain.index_sparseness = 0;
  rocksdb::ColumnFamilyOptions video_options = cf_options;
  video_options.table_factory.reset(rocksdb::NewPlainTableFactory(plain));
  video_options.prefix_extractor.reset(rocksdb::NewFixedPrefixTransform(4));
  std::vector<rocksdb::ColumnFamilyDescriptor> descriptors;
  for (const char* name : kColumnFamilies) {
    descriptors.emplace_back(name, std::string(name) == "videos" ? video_options : cf_options);
  }

  std::unique_ptr<FeatureStore> store(new FeatureStore(options));
  store->dir_ = dir;
  rocksdb::DB* raw = nullptr;
  const rocksdb::Status opened =
      options.read_only && !create
          ? rocksdb::DB::OpenForReadOnly(db_options, dir, descriptors, &store->handles_, &raw)
          : rocksdb::DB::Open(db_options, dir, descriptors, &store->handles_, &raw);
  if (opened.IsIOError() && opened.ToString().find("lock") != std::string::npos) {
    return absl::UnavailableError(absl::StrCat("feature store ", dir,
                                               " is in use by another process (is another vrec serve running?)"));
  }
  if (!opened.ok()) return FromRocks(opened, absl::StrCat("cannot open feature store ", dir));
  store->db_.reset(raw);
  if (create) {
    rocksdb::WriteBatch batch;
    batch.Put(store->handles_[kMeta], kSchemaKey, std::to_string(kFeatureSchemaVersion));
    const uint64_t zero = 0;
    batch.Put(store->handles_[kMeta], kWatermarkKey, rocksdb::Slice(reinterpret_cast<const char*>(&zero), 8));
    batch.Put(store->handles_[kMeta], kAsOfKey, rocksdb::Slice(reinterpret_cast<const char*>(&zero), 8));
    rocksdb::WriteOptions sync;
    sync.sync = true;
    VREC_RETURN_IF_ERROR(FromRocks(store->db_->Write(sync, &batch), "cannot initialise feature store"));
  }
  VREC_RETURN_IF_ERROR(store->ReadMeta());
  if (options.cache_videos) {
    std::vector<VideoFeatures> cache;
    VREC_RETURN_IF_ERROR(store->ForEachVideo([&](const VideoFeatures& v) {
      if (v.id >= cache.size()) {
        VideoFeatures absent;
        absent.id = kInvalidId;
        cache.resize(size_t{v.id} + 1, absent);
      }
      cache[v.id] = v;
      return absl::OkStatus();
    }));
    absl::MutexLock lock(&store->cache_mu_);
    store->video_cache_ = std::move(cache);
  }
  return store;
}

absl::Status FeatureStore::ReadMeta() {
  std::string value;
  rocksdb::Status s = db_->Get(rocksdb::ReadOptions(), handles_[kMeta], kSchemaKey, &value);
  if (s.IsNotFound()) {
    return absl::InvalidArgumentError(absl::StrCat(dir_, " is not a vrec feature store (no schema version)"));
  }
  VREC_RETURN_IF_ERROR(FromRocks(s, "cannot read feature store metadata"));
  if (value != std::to_string(kFeatureSchemaVersion)) {
    return absl::FailedPreconditionError(absl::StrCat(
        "feature store ", dir_, " has schema version ", value, "; this build reads version ",
        static_cast<int>(kFeatureSchemaVersion), " (rebuild it with `vrec featurize`)"));
  }
  for (const auto& [key, target] : {std::make_pair(kWatermarkKey, 0), std::make_pair(kAsOfKey, 1)}) {
    VREC_RETURN_IF_ERROR(FromRocks(db_->Get(rocksdb::ReadOptions(), handles_[kMeta], key, &value),
                                   absl::StrCat("cannot read ", key)));
    if (value.size() != 8) return absl::DataLossError(absl::StrCat("corrupt ", key, " in ", dir_));
    uint64_t v;
    std::memcpy(&v, value.data(), 8);
    if (target == 0) {
      watermark_ = v;
    } else {
      as_of_ms_ = static_cast<TimestampMs>(v);
    }
  }
  return absl::OkStatus();
}

uint64_t FeatureStore::watermark() const { return watermark_.load(); }
TimestampMs FeatureStore::as_of_ms() const { return as_of_ms_.load(); }

absl::StatusOr<UserRead> FeatureStore::GetUser(UserId id, TimestampMs now_ms) const {
  const Key key(id);
  rocksdb::ColumnFamilyHandle* cfs[2] = {handles_[kUsers], handles_[kHistory]};
  const rocksdb::Slice keys[2] = {key.slice(), key.slice()};
  rocksdb::PinnableSlice values[2];
  rocksdb::Status statuses[2];
  db_->MultiGet(rocksdb::ReadOptions(), 2, cfs, keys, values, statuses);
  UserRead read;
  read.features.id = id;
  if (statuses[0].ok()) {
    VREC_RETURN_IF_ERROR(DecodeUser(View(values[0]), &read.features));
  } else if (!statuses[0].IsNotFound()) {
    return FromRocks(statuses[0], "cannot read user features");
  }
  if (statuses[1].ok()) {
    VREC_RETURN_IF_ERROR(DecodeHistory(View(values[1]), &read.features));
  } else if (!statuses[1].IsNotFound()) {
    return FromRocks(statuses[1], "cannot read user history");
  }
  SetUserReadStatus(options_.ttl, now_ms, &read);
  return read;
}

absl::Status FeatureStore::MultiGetVideos(
    absl::Span<const VideoId> ids, const std::function<absl::Status(size_t, absl::string_view)>& found) const {
  const size_t n = ids.size();
  if (n == 0) return absl::OkStatus();
  // Per-thread scratch: a feed request must not allocate per candidate.
  thread_local std::vector<std::pair<VideoId, uint32_t>> order;  // (id, position in ids)
  thread_local std::vector<Key> keys;
  thread_local std::vector<rocksdb::Slice> slices;
  thread_local std::vector<rocksdb::PinnableSlice> values;
  thread_local std::vector<rocksdb::Status> statuses;
  // Sorted keys: RocksDB need not sort them, and the table is walked in address order.
  order.resize(n);
  for (size_t i = 0; i < n; ++i) order[i] = {ids[i], static_cast<uint32_t>(i)};
  std::sort(order.begin(), order.end());
  keys.clear();
  keys.reserve(n);
  slices.resize(n);
  if (values.size() < n) values.resize(n);
  statuses.resize(n);
  for (size_t i = 0; i < n; ++i) {
    keys.emplace_back(order[i].first);
    slices[i] = keys.back().slice();
    values[i].Reset();
  }
  rocksdb::ReadOptions read;
  read.verify_checksums = false;  // plain tables are memory-mapped; checksums are for block reads
  db_->MultiGet(read, handles_[kVideos], n, slices.data(), values.data(), statuses.data(), /*sorted_input=*/true);
  for (size_t i = 0; i < n; ++i) {
    if (statuses[i].IsNotFound()) continue;
    VREC_RETURN_IF_ERROR(FromRocks(statuses[i], "cannot read video features"));
    VREC_RETURN_IF_ERROR(found(order[i].second, View(values[i])));
  }
  for (size_t i = 0; i < n; ++i) values[i].Reset();  // release pinned memory
  return absl::OkStatus();
}

absl::Status FeatureStore::GetVideoFeatures(absl::Span<const VideoId> ids, std::vector<VideoFeatures>* out,
                                            std::vector<bool>* found) const {
  out->assign(ids.size(), VideoFeatures());
  found->assign(ids.size(), false);
  for (size_t i = 0; i < ids.size(); ++i) (*out)[i].id = ids[i];
  if (options_.cache_videos) {
    absl::ReaderMutexLock lock(&cache_mu_);
    for (size_t i = 0; i < ids.size(); ++i) {
      if (ids[i] < video_cache_.size() && video_cache_[ids[i]].id == ids[i]) {
        (*out)[i] = video_cache_[ids[i]];
        (*found)[i] = true;
      }
    }
    return absl::OkStatus();
  }
  return MultiGetVideos(ids, [&](size_t i, absl::string_view bytes) {
    (*found)[i] = true;
    return DecodeVideo(bytes, &(*out)[i]);
  });
}

absl::Status FeatureStore::GetVideos(absl::Span<const VideoId> ids, TimestampMs now_ms,
                                     std::vector<VideoRead>* out) const {
  out->resize(ids.size());
  for (size_t i = 0; i < ids.size(); ++i) {
    VideoFeatures& f = (*out)[i].features;
    f.known = false;  // DecodeVideo overwrites every field of found videos, reusing their buffers
    f.category.clear();
    f.tags.clear();
    f.creator_id = kInvalidId;
    f.duration_ms = 0;
    f.language.clear();
    f.upload_ms = 0;
    f.counters = EngagementCounters();
    f.id = ids[i];
  }
  if (options_.cache_videos) {
    absl::ReaderMutexLock lock(&cache_mu_);
    for (size_t i = 0; i < ids.size(); ++i) {
      if (ids[i] < video_cache_.size() && video_cache_[ids[i]].id == ids[i]) (*out)[i].features = video_cache_[ids[i]];
    }
  } else {
    VREC_RETURN_IF_ERROR(MultiGetVideos(ids, [&](size_t i, absl::string_view bytes) {
      return DecodeVideo(bytes, &(*out)[i].features);
    }));
  }
  for (VideoRead& r : *out) SetVideoReadStatus(options_.ttl, now_ms, &r);
  return absl::OkStatus();
}

absl::Status FeatureStore::GetUserFeatures(absl::Span<const UserId> ids, std::vector<UserFeatures>* out) const {
  out->clear();
  for (UserId id : ids) {
    VREC_ASSIGN_OR_RETURN(UserRead read, GetUser(id, 0));
    out->push_back(std::move(read.features));
  }
  return absl::OkStatus();
}

absl::Status FeatureStore::ContainsEventIds(absl::Span<const uint64_t> event_ids, std::vector<bool>* known) const {
  known->assign(event_ids.size(), false);
  if (event_ids.empty()) return absl::OkStatus();
  std::vector<std::string> keys;
  keys.reserve(event_ids.size());
  for (const uint64_t id : event_ids) keys.push_back(EventIdKey(id));
  std::vector<rocksdb::Slice> slices(keys.begin(), keys.end());
  std::vector<rocksdb::PinnableSlice> values(keys.size());
  std::vector<rocksdb::Status> statuses(keys.size());
  db_->MultiGet(rocksdb::ReadOptions(), handles_[kMeta], slices.size(), slices.data(), values.data(),
                statuses.data());
  for (size_t i = 0; i < keys.size(); ++i) {
    if (statuses[i].ok()) {
      (*known)[i] = true;
    } else if (!statuses[i].IsNotFound()) {
      return FromRocks(statuses[i], "cannot read event ids");
    }
  }
  return absl::OkStatus();
}

absl::Status FeatureStore::Write(const FeatureWriteBatch& batch, const FeatureWriteOptions& write_options) {
  rocksdb::WriteBatch wb;
  std::string value;
  for (const UserFeatures* u : batch.users) {
    const Key key(u->id);
    EncodeUser(*u, &value);
    wb.Put(handles_[kUsers], key.slice(), value);
    EncodeHistory(*u, &value);
    wb.Put(handles_[kHistory], key.slice(), value);
  }
  for (const VideoFeatures* v : batch.videos) {
    const Key key(v->id);
    EncodeVideo(*v, &value);
    wb.Put(handles_[kVideos], key.slice(), value);
  }
  for (const uint64_t id : batch.event_ids) wb.Put(handles_[kMeta], EventIdKey(id), rocksdb::Slice());
  wb.Put(handles_[kMeta], kWatermarkKey, rocksdb::Slice(reinterpret_cast<const char*>(&batch.watermark), 8));
  wb.Put(handles_[kMeta], kAsOfKey, rocksdb::Slice(reinterpret_cast<const char*>(&batch.as_of_ms), 8));
  rocksdb::WriteOptions options;
  options.sync = write_options.sync;
  options.disableWAL = write_options.disable_wal;
  VREC_RETURN_IF_ERROR(FromRocks(db_->Write(options, &wb), "cannot write features"));
  if (options_.cache_videos && !batch.videos.empty()) {
    absl::MutexLock lock(&cache_mu_);
    for (const VideoFeatures* v : batch.videos) {
      if (v->id >= video_cache_.size()) {
        VideoFeatures absent;
        absent.id = kInvalidId;
        video_cache_.resize(size_t{v->id} + 1, absent);
      }
      video_cache_[v->id] = *v;
    }
  }
  watermark_ = batch.watermark;
  as_of_ms_ = batch.as_of_ms;
  return absl::OkStatus();
}

absl::Status FeatureStore::ForEachVideo(const std::function<absl::Status(const VideoFeatures&)>& fn) const {
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions(), handles_[kVideos]));
  VideoFeatures f;
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    f = VideoFeatures();
    f.id = IdOf(it->key());
    VREC_RETURN_IF_ERROR(DecodeVideo(View(it->value()), &f));
    VREC_RETURN_IF_ERROR(fn(f));
  }
  return FromRocks(it->status(), "cannot iterate videos");
}

absl::Status FeatureStore::Compact() {
  rocksdb::FlushOptions flush;
  VREC_RETURN_IF_ERROR(FromRocks(db_->Flush(flush, handles_), "cannot flush feature store"));
  rocksdb::CompactRangeOptions compact;
  compact.bottommost_level_compaction = rocksdb::BottommostLevelCompaction::kForceOptimized;
  for (rocksdb::ColumnFamilyHandle* h : handles_) {
    VREC_RETURN_IF_ERROR(FromRocks(db_->CompactRange(compact, h, nullptr, nullptr), "cannot compact feature store"));
  }
  return absl::OkStatus();
}

absl::Status FeatureStore::Checkpoint(const std::string& dir) const {
  rocksdb::Checkpoint* raw = nullptr;
  VREC_RETURN_IF_ERROR(FromRocks(rocksdb::Checkpoint::Create(db_.get(), &raw), "cannot checkpoint"));
  std::unique_ptr<rocksdb::Checkpoint> checkpoint(raw);
  return FromRocks(checkpoint->CreateCheckpoint(dir), absl::StrCat("cannot write checkpoint ", dir));
}

}  // namespace vrec::featurestore
