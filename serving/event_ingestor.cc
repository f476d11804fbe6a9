#include "serving/event_ingestor.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "common/status.h"

namespace vrec::serving {

EventIngestor::EventIngestor(featurestore::FeatureStore* store, std::unique_ptr<EventLogWriter> writer,
                             const EventIngestorOptions& options)
    : store_(store), writer_(std::move(writer)), options_(options) {}

absl::StatusOr<std::unique_ptr<EventIngestor>> EventIngestor::Create(const std::string& log_path,
                                                                     featurestore::FeatureStore* store,
                                                                     const EventIngestorOptions& options) {
  if (options.max_events_per_request == 0 || options.max_events_per_request > EventLogWriterOptions().block_records) {
    return absl::InvalidArgumentError(absl::StrCat("max_events_per_request must be in [1, ",
                                                   EventLogWriterOptions().block_records, "]"));
  }
  // The store's watermark counts acknowledged events: reopening never truncates below it.
  EventLogWriterOptions writer_options;
  writer_options.acknowledged_events = store->watermark();
  VREC_ASSIGN_OR_RETURN(std::unique_ptr<EventLogWriter> writer, EventLogWriter::Open(log_path, writer_options));
  std::unique_ptr<EventIngestor> ingestor(new EventIngestor(store, std::move(writer), options));
  VREC_RETURN_IF_ERROR(ingestor->Recover(log_path));
  {
    absl::MutexLock lock(&ingestor->mu_);
    ingestor->log_events_ = ingestor->writer_->event_count();
  }
  ingestor->thread_ = std::thread([raw = ingestor.get()] { raw->WriterLoop(); });
  return ingestor;
}

EventIngestor::~EventIngestor() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
    wake_.SignalAll();
  }
  if (thread_.joinable()) thread_.join();
  if (writer_ != nullptr) (void)writer_->Close();
}

absl::Status EventIngestor::health() const {
  absl::MutexLock lock(&mu_);
  return broken_;
}

uint64_t EventIngestor::log_events() const {
  absl::MutexLock lock(&mu_);
  return log_events_;
}

absl::Status EventIngestor::Recover(const std::string& log_path) {
  const uint64_t in_log = writer_->event_count();
  const uint64_t applied = store_->watermark();
  if (applied > in_log) {
    return absl::FailedPreconditionError(absl::StrCat(
        "the feature store reflects ", applied, " events but the event log ", log_path, " holds only ", in_log,
        "; the store was built from another log (rebuild it with `vrec featurize`)"));
  }
  if (applied == in_log) return absl::OkStatus();
  VREC_ASSIGN_OR_RETURN(std::unique_ptr<EventLogReader> reader, EventLogReader::Open(log_path));
  uint64_t index = 0;
  std::vector<Event> chunk;
  std::vector<uint64_t> chunk_ids;
  while (index < in_log) {
    VREC_ASSIGN_OR_RETURN(absl::Span<const Event> block, reader->NextBlock());
    if (block.empty()) break;
    const absl::Span<const uint64_t> ids = reader->block_event_ids();
    for (size_t i = 0; i < block.size(); ++i) {
      if (index++ < applied) continue;
      chunk.push_back(block[i]);
      if (!ids.empty()) chunk_ids.push_back(ids[i]);
      if (chunk.size() >= options_.recovery_chunk_events) {
        VREC_RETURN_IF_ERROR(ApplyToStore(chunk, chunk_ids, index));
        recovered_ += chunk.size();
        chunk.clear();
        chunk_ids.clear();
      }
    }
  }
  if (!chunk.empty()) {
    VREC_RETURN_IF_ERROR(ApplyToStore(chunk, chunk_ids, index));
    recovered_ += chunk.size();
  }
  return absl::OkStatus();
}

absl::Status EventIngestor::ApplyToStore(absl::Span<const Event> events, absl::Span<const uint64_t> ids,
                                         uint64_t watermark) {
  std::vector<UserId> user_ids;
  std::vector<VideoId> video_ids;
  TimestampMs latest = store_->as_of_ms();
  for (const Event& e : events) {
    user_ids.push_back(e.user_id);
    video_ids.push_back(e.video_id);
    latest = std::max(latest, e.timestamp_ms);
  }
  std::sort(user_ids.begin(), user_ids.end());
  user_ids.erase(std::unique(user_ids.begin(), user_ids.end()), user_ids.end());
  std::sort(video_ids.begin(), video_ids.end());
  video_ids.erase(std::unique(video_ids.begin(), video_ids.end()), video_ids.end());
  std::vector<featurestore::UserFeatures> users;
  VREC_RETURN_IF_ERROR(store_->GetUserFeatures(user_ids, &users));
  std::vector<featurestore::VideoFeatures> videos;
  std::vector<bool> found;
  VREC_RETURN_IF_ERROR(store_->GetVideoFeatures(video_ids, &videos, &found));
  for (const Event& e : events) {
    const size_t u = std::lower_bound(user_ids.begin(), user_ids.end(), e.user_id) - user_ids.begin();
    const size_t v = std::lower_bound(video_ids.begin(), video_ids.end(), e.video_id) - video_ids.begin();
    featurestore::ApplyEvent(e, options_.update, &users[u], &videos[v]);
  }
  featurestore::FeatureWriteBatch batch;
  for (const featurestore::UserFeatures& u : users) batch.users.push_back(&u);
  for (const featurestore::VideoFeatures& v : videos) batch.videos.push_back(&v);
  batch.watermark = watermark;
  batch.as_of_ms = latest;
  for (const uint64_t id : ids) {
    if (id != 0) batch.event_ids.push_back(id);  // 0: sent without an id
  }
  return store_->Write(batch, featurestore::FeatureWriteOptions());
}

absl::Status EventIngestor::DropDuplicates(Pending* p, absl::flat_hash_set<uint64_t>* seen) const {
  if (p->ids.empty()) return absl::OkStatus();
  std::vector<bool> known;
  VREC_RETURN_IF_ERROR(store_->ContainsEventIds(p->ids, &known));
  size_t kept = 0;
  for (size_t i = 0; i < p->events.size(); ++i) {
    const uint64_t id = p->ids[i];
    if (id != 0 && (known[i] || !seen->insert(id).second)) continue;
    p->events[kept] = p->events[i];
    p->ids[kept] = id;
    ++kept;
  }
  p->duplicates = p->events.size() - kept;
  p->events.resize(kept);
  p->ids.resize(kept);
  return absl::OkStatus();
}

absl::Status EventIngestor::Ingest(std::vector<Event> events, std::vector<uint64_t> event_ids, size_t* duplicates) {
  if (events.empty()) return absl::InvalidArgumentError("no events");
  if (events.size() > options_.max_events_per_request) {
    return absl::InvalidArgumentError(
        absl::StrCat("at most ", options_.max_events_per_request, " events per request"));
  }
  if (!event_ids.empty() && event_ids.size() != events.size()) {
    return absl::InvalidArgumentError("event ids must be none or one per event");
  }
  Pending pending;
  pending.events = std::move(events);
  if (std::any_of(event_ids.begin(), event_ids.end(), [](uint64_t id) { return id != 0; })) {
    pending.ids = std::move(event_ids);
  }
  std::future<absl::Status> done = pending.done.get_future();
  {
    absl::MutexLock lock(&mu_);
    if (stopping_) return absl::UnavailableError("the server is shutting down");
    if (!broken_.ok()) return absl::UnavailableError(broken_.message());
    queue_.push_back(&pending);
    wake_.Signal();
  }
  absl::Status status = done.get();
  if (duplicates != nullptr) *duplicates = pending.duplicates;
  return status;
}

void EventIngestor::WriterLoop() {
  while (true) {
    std::vector<Pending*> group;
    uint64_t watermark;
    {
      absl::MutexLock lock(&mu_);
      while (queue_.empty() && !stopping_) wake_.Wait(&mu_);
      if (queue_.empty()) return;  // stopping
      group.assign(queue_.begin(), queue_.end());
      queue_.clear();
      watermark = log_events_;
    }
    // Retries of ingested events dropped; then one block per request (all-or-nothing on a
    // crash), one fdatasync for the group.
    absl::Status status;
    absl::flat_hash_set<uint64_t> seen;
    std::vector<Event> all;
    std::vector<uint64_t> all_ids;
    for (Pending* p : group) {
      if (status.ok()) status = DropDuplicates(p, &seen);
    }
    const bool deduplicated = status.ok();
    for (Pending* p : group) {
      if (p->events.empty()) continue;
      if (status.ok()) status = writer_->AppendBatch(p->events, p->ids);
      if (status.ok()) status = writer_->Flush();
      all.insert(all.end(), p->events.begin(), p->events.end());
      all_ids.insert(all_ids.end(), p->ids.begin(), p->ids.end());
    }
    if (status.ok() && !all.empty()) status = writer_->Sync();
    bool recoverable = false;
    if (!deduplicated) {
      // Nothing was written: the store could not be asked for the ids.
      recoverable = true;
      status = absl::UnavailableError(absl::StrCat("could not check event ids (", status.message(), "); retry"));
    } else if (!status.ok()) {
      // The writer rolled the log back to its last sync: none of the group's events is in it,
      // and later requests can still be logged, unless the roll-back itself failed.
      recoverable = writer_->health().ok();
      status = absl::UnavailableError(absl::StrCat(
          "could not make events durable (", status.message(), ")",
          recoverable ? "; none was recorded, retry" : "; restart the server to recover"));
    } else {
      watermark += all.size();
      if (!all.empty()) status = ApplyToStore(all, all_ids, watermark);
      if (!status.ok()) {
        status = absl::UnavailableError(absl::StrCat(
            "events are in the log but the feature store update failed (", status.message(),
            "); restart the server, which applies them"));
      }
    }
    {
      absl::MutexLock lock(&mu_);
      if (status.ok()) {
        log_events_ = watermark;
      } else if (!recoverable) {
        broken_ = status;
      }
    }
    for (Pending* p : group) p->done.set_value(status);
  }
}

}  // namespace vrec::serving
