// Event ingestion behind POST /v1/events: events become durable in the world's event log,
// then update the feature store, and only then are acknowledged.
//
// The event log is the write-ahead log. Each request's events are appended as one log block
// (its checksum makes the request all-or-nothing across crashes); concurrent requests share
// one fdatasync (group commit). The store's updates and its watermark (events of the log it
// reflects) are written in one atomic RocksDB batch. At start-up the store is caught up with
// whatever the log holds past its watermark, so an acknowledged event survives a crash at any
// point.
//
// Retries are idempotent for events sent with an event_id: its EventIdHash is logged with the
// event (an IBLK block) and written to the store in the same batch; an event whose id the store
// (or an earlier request of the same group commit) already holds is acknowledged without being
// logged again. Recovery re-applies the ids with their events, so a crash between the log's
// sync and the store's write cannot let a retry through.
#ifndef VREC_SERVING_EVENT_INGESTOR_H_
#define VREC_SERVING_EVENT_INGESTOR_H_

#include <cstdint>
#include <deque>
#include <future>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_set.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/types/span.h"
#include "common/event_log.h"
#include "featurestore/feature_store.h"
#include "featurestore/features.h"

namespace vrec::serving {

struct EventIngestorOptions {
  featurestore::FeatureUpdateOptions update;  // must match what built the store
  uint32_t max_events_per_request = 1000;  // at most the log's block size (2048)
  uint32_t recovery_chunk_events = 20000;  // events per store batch while catching up
};

// Thread-safe. Owns a writer thread; the store must outlive it.
class EventIngestor {
 public:
  // Opens `log_path` for appending and applies log events past the store's watermark. A
  // damaged end of the log is truncated only when it holds no acknowledged event (none below
  // the watermark), else DataLoss. FailedPrecondition if the store is ahead of the log (built
  // from another log) or another writer holds the log.
  static absl::StatusOr<std::unique_ptr<EventIngestor>> Create(const std::string& log_path,
                                                               featurestore::FeatureStore* store,
                                                               const EventIngestorOptions& options);
  ~EventIngestor();

  // Appends the events durably and applies them to the store; returns when both are done.
  // `event_ids` is empty or one EventIdHash per event (0: none); events whose id was ingested
  // before are skipped and counted in `*duplicates` (when given). InvalidArgument for an empty
  // or oversized batch; Unavailable after a failure that needs a restart (the log stays the
  // source of truth).
  [[nodiscard]] absl::Status Ingest(std::vector<Event> events, std::vector<uint64_t> event_ids = {},
                                    size_t* duplicates = nullptr);

  uint64_t recovered_events() const { return recovered_; }
  // OK while events can be ingested; the failure that needs a restart otherwise.
  absl::Status health() const;
  uint64_t log_events() const;

 private:
  struct Pending {
    std::vector<Event> events;
    std::vector<uint64_t> ids;  // empty, or one per event
    size_t duplicates = 0;      // set by the writer thread before `done`
    std::promise<absl::Status> done;
  };

  EventIngestor(featurestore::FeatureStore* store, std::unique_ptr<EventLogWriter> writer,
                const EventIngestorOptions& options);
  absl::Status Recover(const std::string& log_path);
  // Read-modify-write of the affected users and videos, written with the new watermark and the
  // event-id hashes in `ids` (any order and length; 0s are skipped).
  absl::Status ApplyToStore(absl::Span<const Event> events, absl::Span<const uint64_t> ids, uint64_t watermark);
  // Drops the events of `p` whose id the store or `seen` (the group so far) holds; adds the
  // rest's ids to `seen`.
  absl::Status DropDuplicates(Pending* p, absl::flat_hash_set<uint64_t>* seen) const;
  void WriterLoop();

  featurestore::FeatureStore* store_;
  std::unique_ptr<EventLogWriter> writer_;  // used by the writer thread only (and Create)
  EventIngestorOptions options_;
  uint64_t recovered_ = 0;

  mutable absl::Mutex mu_;
  absl::CondVar wake_;
  std::deque<Pending*> queue_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  absl::Status broken_ ABSL_GUARDED_BY(mu_);
  uint64_t log_events_ ABSL_GUARDED_BY(mu_) = 0;
  std::thread thread_;
};

}  // namespace vrec::serving

#endif  // VREC_SERVING_EVENT_INGESTOR_H_
