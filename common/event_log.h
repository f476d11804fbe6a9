// The append-only event log: the source of truth for everything offline (feature building,
// training, replay) and the durable record behind POST /v1/events.
//
// Format (version 1, little-endian):
//   file header, 64 bytes:
//     [0..8)   magic "VRECLOG\0"
//     [8..12)  format version (1)
//     [12..16) record size in bytes (32, sizeof(Event))
//     [16..24) creation time, ms since epoch
//     [24..60) reserved, zero
//     [60..64) CRC-32C of bytes [0..60)
//   then blocks, each:
//     [0..4)   block magic 0x4B4C4256 ("VBLK"), or 0x4B4C4249 ("IBLK") for a block with ids
//     [4..8)   record count n (1 ≤ n ≤ 65536)
//     [8..12)  CRC-32C of the payload bytes
//     [12..16) CRC-32C of bytes [0..12) of this header
//     payload: n records of 32 bytes, the layout of vrec::Event (common/types.h); an IBLK block
//     then has n 8-byte event-id hashes (EventIdHash; 0 for an event sent without an id), which
//     make client retries idempotent (serving/event_ingestor.h). Readers return the events of
//     both kinds; readers of builds before IBLK see such a block as corrupt.
// A block is written with one write(2) and made durable by fdatasync. A crash before the sync
// can leave the end of the log torn: a block whose header or payload is incomplete or fails its
// checksum. Readers and writers classify such a block the same way (one function): when it is
// the last thing in the file it is a torn tail, otherwise corruption. Readers end the stream at
// a torn tail (or fail, if asked) and fail on corruption. A writer reopening the log keeps the
// valid prefix (verifying the payloads of the last kEventLogMaxTornTailBytes) and truncates
// what follows only when that cannot drop an acknowledged event
// (EventLogWriterOptions::acknowledged_events).
// Events are usually in time order but the format does not require it.
#ifndef VREC_COMMON_EVENT_LOG_H_
#define VREC_COMMON_EVENT_LOG_H_

#include <cstdint>
#include <cstdio>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "common/types.h"

namespace vrec {

inline constexpr uint32_t kEventLogFormatVersion = 1;
inline constexpr size_t kEventLogHeaderBytes = 64;
inline constexpr size_t kEventLogBlockHeaderBytes = 16;
inline constexpr uint32_t kEventLogMaxBlockRecords = 65536;
// The most bytes one unfinished block can leave at the end of a log: its header and payload.
// A reopening writer verifies the payload checksums of the blocks this close to the end.
inline constexpr uint64_t kEventLogMaxTornTailBytes = kEventLogBlockHeaderBytes + uint64_t{kEventLogMaxBlockRecords} * (32 + 8);

// The stable 64-bit hash (never 0) under which a client's event_id is logged and deduplicated:
// FNV-1a of its bytes, mixed by SplitMix64.
uint64_t EventIdHash(absl::string_view event_id);

struct EventLogWriterOptions {
  // Events buffered before a block is written. Larger blocks read faster; smaller ones lose
  // less on a crash before Flush(). Default 2048 (64 KiB blocks); at most 65536.
  uint32_t block_records = 2048;
  // Creation time written into the header of a new log, ms since epoch. Default 0.
  TimestampMs created_ms = 0;
  // Events of this log known to be acknowledged (e.g. the feature store's watermark), or 0 when
  // unknown. Open never truncates below them: a damaged end that would lose any is DataLoss
  // with the file untouched. When known, anything past the valid prefix that covers them was
  // never acknowledged and is truncated, however long it is.
  uint64_t acknowledged_events = 0;
};

// Appends events to a log file. Not thread-safe: one writer per file, owned by its caller, and
// one writer per file across processes: Open takes an exclusive lock (flock) held until Close.
// The file is opened O_APPEND. Events reach the OS at Flush() and the disk at Sync(); Close()
// flushes. A failed write or sync rolls the file back to the end of the last successful Sync
// (or of Open) and drops the events buffered or written since; if even that fails, the writer
// refuses every later call.
class EventLogWriter {
 public:
  // Creates `path` if absent or opens it for appending after checking its header and scanning
  // its blocks. A torn end (from a crash) is truncated away when that keeps
  // options.acknowledged_events; corruption is DataLoss (see the top of this file); a file of
  // another format is InvalidArgument; a log another writer holds is FailedPrecondition.
  static absl::StatusOr<std::unique_ptr<EventLogWriter>> Open(
      const std::string& path, const EventLogWriterOptions& options = {});
  ~EventLogWriter();

  EventLogWriter(const EventLogWriter&) = delete;
  EventLogWriter& operator=(const EventLogWriter&) = delete;

  // Buffers one event; writes a block when the buffer is full.
  [[nodiscard]] absl::Status Append(const Event& event);
  // Buffers many events; written as one or more whole blocks at the next Flush(). `event_ids`
  // is empty or holds one EventIdHash per event (0: none); a block with any id is an IBLK block.
  [[nodiscard]] absl::Status AppendBatch(absl::Span<const Event> events, absl::Span<const uint64_t> event_ids = {});
  // Writes buffered events as blocks (to the OS page cache).
  [[nodiscard]] absl::Status Flush();
  // Flush() and fdatasync(): on OK every appended event is durable.
  [[nodiscard]] absl::Status Sync();
  [[nodiscard]] absl::Status Close();

  // Events in the file plus those buffered.
  uint64_t event_count() const { return event_count_; }
  // Bytes dropped when a torn tail was truncated at Open(), 0 normally.
  uint64_t truncated_bytes() const { return truncated_bytes_; }
  // OK unless a roll-back failed (then every call fails with it).
  const absl::Status& health() const { return broken_; }

 private:
  EventLogWriter(const std::string& path, int fd, const EventLogWriterOptions& options);
  [[nodiscard]] absl::Status WriteBlock(const Event* events, const uint64_t* ids, uint32_t count);
  // Truncates back to the last synced end after `failure`; returns `failure`.
  absl::Status RollBack(absl::Status failure);

  std::string path_;
  int fd_ = -1;
  EventLogWriterOptions options_;
  std::vector<Event> buffer_;
  std::vector<uint64_t> ids_;  // parallel to buffer_
  uint64_t event_count_ = 0;
  uint64_t truncated_bytes_ = 0;
  uint64_t synced_end_ = 0;    // file size at the last successful Sync (or Open)
  uint64_t synced_count_ = 0;  // events in the file then
  absl::Status broken_;        // set when a roll-back failed: the file's end is unknown
};

struct EventLogReaderOptions {
  // When true, an incomplete final block (a crash mid-write, or a writer still writing) ends
  // the stream cleanly and is counted in torn_tail_bytes(); when false it is DataLoss.
  bool tolerate_torn_tail = true;
};

// Streams a log block by block. Not thread-safe. Reads at several hundred MB/s: records are
// returned in place, without per-event copies.
class EventLogReader {
 public:
  // NotFound if `path` does not exist, InvalidArgument if it is not an event log (or of a
  // newer version), DataLoss if its header is corrupt.
  static absl::StatusOr<std::unique_ptr<EventLogReader>> Open(
      const std::string& path, const EventLogReaderOptions& options = {});
  ~EventLogReader();

  EventLogReader(const EventLogReader&) = delete;
  EventLogReader& operator=(const EventLogReader&) = delete;

  // The next block's events, valid until the next call; an empty span at the end.
  // DataLoss (naming the byte offset) on a corrupt block.
  absl::StatusOr<absl::Span<const Event>> NextBlock();
  // The event-id hashes of the block NextBlock() returned last, one per event; empty for a
  // block without ids.
  absl::Span<const uint64_t> block_event_ids() const { return block_ids_; }

  TimestampMs created_ms() const { return created_ms_; }
  uint64_t torn_tail_bytes() const { return torn_tail_bytes_; }
  // File size in bytes at open, for progress reporting.
  uint64_t file_bytes() const { return file_bytes_; }
  // Bytes consumed so far.
  uint64_t bytes_read() const { return offset_; }

 private:
  EventLogReader(std::string path, std::FILE* file, const EventLogReaderOptions& options);

  std::string path_;
  std::FILE* file_;
  EventLogReaderOptions options_;
  std::vector<Event> block_;
  std::vector<uint64_t> block_ids_;
  TimestampMs created_ms_ = 0;
  uint64_t offset_ = 0;
  uint64_t file_bytes_ = 0;
  uint64_t torn_tail_bytes_ = 0;
};

// Calls `fn` with every block of the log at `path`, in file order. Stops at the first error
// (from the log or returned by `fn`).
[[nodiscard]] absl::Status ForEachEventBlock(
    const std::string& path, const std::function<absl::Status(absl::Span<const Event>)>& fn);

// Reads a whole log into memory. For tests and small logs.
absl::StatusOr<std::vector<Event>> ReadEventLog(const std::string& path);

// Writes `events` as a new log at `path` (replacing it) and syncs it.
[[nodiscard]] absl::Status WriteEventLog(const std::string& path, absl::Span<const Event> events);

}  // namespace vrec

#endif  // VREC_COMMON_EVENT_LOG_H_
