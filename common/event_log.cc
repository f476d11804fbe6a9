#include "common/event_log.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/crc32c.h"
#include "common/random.h"
#include "common/status.h"

namespace vrec {
namespace {

constexpr char kMagic[8] = {'V', 'R', 'E', 'C', 'L', 'O', 'G', '\0'};
constexpr uint32_t kBlockMagic = 0x4B4C4256;    // "VBLK" little-endian
constexpr uint32_t kIdBlockMagic = 0x4B4C4249;  // "IBLK": events, then their id hashes

struct BlockHeader {
  uint32_t magic;
  uint32_t count;
  uint32_t payload_crc;
  uint32_t header_crc;
};
static_assert(sizeof(BlockHeader) == kEventLogBlockHeaderBytes);

std::string Errno(absl::string_view what, const std::string& path) {
  return absl::StrCat(what, " ", path, ": ", std::strerror(errno));
}

void EncodeFileHeader(TimestampMs created_ms, char* out) {
  std::memset(out, 0, kEventLogHeaderBytes);
  std::memcpy(out, kMagic, 8);
  const uint32_t version = kEventLogFormatVersion;
  const uint32_t record_size = sizeof(Event);
  std::memcpy(out + 8, &version, 4);
  std::memcpy(out + 12, &record_size, 4);
  std::memcpy(out + 16, &created_ms, 8);
  const uint32_t crc = Crc32c(out, 60);
  std::memcpy(out + 60, &crc, 4);
}

// Checks a 64-byte file header; on success stores the creation time.
absl::Status DecodeFileHeader(const char* in, size_t size, const std::string& path,
                              TimestampMs* created_ms) {
  if (size < 8 || std::memcmp(in, kMagic, 8) != 0) {
    return absl::InvalidArgumentError(
        absl::StrCat(path, " is not a vrec event log (bad magic bytes)"));
  }
  if (size < kEventLogHeaderBytes) {
    return absl::DataLossError(absl::StrCat(path, ": event log header is truncated"));
  }
  uint32_t crc, version, record_size;
  std::memcpy(&crc, in + 60, 4);
  if (crc != Crc32c(in, 60)) {
    return absl::DataLossError(absl::StrCat(path, ": event log header checksum mismatch"));
  }
  std::memcpy(&version, in + 8, 4);
  std::memcpy(&record_size, in + 12, 4);
  if (version != kEventLogFormatVersion || record_size != sizeof(Event)) {
    return absl::InvalidArgumentError(absl::StrCat(
        path, ": event log format version ", version, " (record size ", record_size,
        ") is not supported; this build reads version ", kEventLogFormatVersion));
  }
  std::memcpy(created_ms, in + 16, 8);
  return absl::OkStatus();
}

bool HeaderValid(const BlockHeader& h) {
  return (h.magic == kBlockMagic || h.magic == kIdBlockMagic) && h.count >= 1 && h.count <= kEventLogMaxBlockRecords &&
         h.header_crc == Crc32c(&h, 12);
}

// Payload bytes of a block with a valid header.
uint64_t PayloadBytes(const BlockHeader& h) {
  return static_cast<uint64_t>(h.count) * (sizeof(Event) + (h.magic == kIdBlockMagic ? sizeof(uint64_t) : 0));
}

absl::Status PreadFull(int fd, void* buf, size_t size, uint64_t offset, size_t* got) {
  *got = 0;
  auto* p = static_cast<char*>(buf);
  while (*got < size) {
    const ssize_t n = ::pread(fd, p + *got, size - *got, static_cast<off_t>(offset + *got));
    if (n < 0) {
      if (errno == EINTR) continue;
      return absl::InternalError(absl::StrCat("pread failed: ", std::strerror(errno)));
    }
    if (n == 0) break;
    *got += static_cast<size_t>(n);
  }
  return absl::OkStatus();
}

// What a block position holds. The one rule readers and writers share: a block that is
// incomplete or fails a check is the torn end of an unfinished write when it is the last thing
// in the file (its header, when readable, says it reaches or passes the end; an unreadable
// header is the file's last bytes), and corruption otherwise.
enum class BlockState { kValid, kTorn, kCorrupt };

BlockState ClassifyBlock(const BlockHeader& header, size_t header_got, bool payload_ok, uint64_t remaining) {
  const bool readable = header_got == sizeof(header) && HeaderValid(header);
  const uint64_t block_bytes = sizeof(header) + (readable ? PayloadBytes(header) : 0);
  if (readable && block_bytes <= remaining && payload_ok) return BlockState::kValid;
  const bool last = readable ? block_bytes >= remaining : remaining <= sizeof(header);
  return last ? BlockState::kTorn : BlockState::kCorrupt;
}

struct Scan {
  uint64_t valid_end = 0;   // just past the last block of the valid prefix
  uint64_t events = 0;      // events in the valid prefix
  BlockState rest = BlockState::kValid;  // what follows it (kValid: nothing)
};

// Scans an existing log's blocks: the valid prefix and what follows it. Payload checksums are
// verified for the blocks within kEventLogMaxTornTailBytes of the end (where unsynced writes
// can be torn); earlier ones were synced long ago, and readers verify them.
absl::StatusOr<Scan> ScanLog(int fd, uint64_t file_size) {
  Scan scan;
  uint64_t offset = kEventLogHeaderBytes;
  std::vector<char> payload;
  while (offset < file_size) {
    const uint64_t remaining = file_size - offset;
    BlockHeader header;
    size_t got;
    VREC_RETURN_IF_ERROR(PreadFull(fd, &header, sizeof(header), offset, &got));
    const size_t header_got = got;
    const uint64_t payload_bytes = header_got == sizeof(header) && HeaderValid(header) ? PayloadBytes(header) : 0;
    bool payload_ok = true;
    if (header_got == sizeof(header) && HeaderValid(header) && sizeof(header) + payload_bytes <= remaining &&
        remaining <= kEventLogMaxTornTailBytes + sizeof(header) + payload_bytes) {
      payload.resize(payload_bytes);
      VREC_RETURN_IF_ERROR(PreadFull(fd, payload.data(), payload_bytes, offset + sizeof(header), &got));
      payload_ok = got == payload_bytes && Crc32c(payload.data(), payload_bytes) == header.payload_crc;
    }
    const BlockState state = ClassifyBlock(header, header_got, payload_ok, remaining);
    if (state != BlockState::kValid) {
      scan.rest = state;
      break;
    }
    offset += sizeof(header) + payload_bytes;
    scan.events += header.count;
  }
  scan.valid_end = offset;
  return scan;
}

}  // namespace

uint64_t EventIdHash(absl::string_view event_id) {
  uint64_t h = 0xcbf29ce484222325ULL;
  for (const char c : event_id) h = (h ^ static_cast<uint8_t>(c)) * 0x100000001b3ULL;
  h = SplitMix64(h);
  return h == 0 ? 1 : h;
}

EventLogWriter::EventLogWriter(const std::string& path, int fd,
                               const EventLogWriterOptions& options)
    : path_(path), fd_(fd), options_(options) {
  buffer_.reserve(options_.block_records);
}

EventLogWriter::~EventLogWriter() {
  if (fd_ >= 0) (void)Close();
}

absl::StatusOr<std::unique_ptr<EventLogWriter>> EventLogWriter::Open(
    const std::string& path, const EventLogWriterOptions& options) {
  if (options.block_records < 1 || options.block_records > kEventLogMaxBlockRecords) {
    return absl::InvalidArgumentError(
        absl::StrCat("block_records must be in [1, ", kEventLogMaxBlockRecords, "]"));
  }
  const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (fd < 0) return absl::InternalError(Errno("cannot open event log", path));
  std::unique_ptr<EventLogWriter> writer(new EventLogWriter(path, fd, options));
  if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    if (errno == EWOULDBLOCK) {
      return absl::FailedPreconditionError(absl::StrCat(
          "event log ", path, " is locked by another writer (is a vrec serve already running on this world?)"));
    }
    return absl::InternalError(Errno("cannot lock event log", path));
  }
  struct stat st;
  if (::fstat(fd, &st) != 0) return absl::InternalError(Errno("cannot stat", path));
  const uint64_t file_size = static_cast<uint64_t>(st.st_size);
  if (file_size == 0) {
    char header[kEventLogHeaderBytes];
    EncodeFileHeader(options.created_ms, header);
    if (::write(fd, header, sizeof(header)) != static_cast<ssize_t>(sizeof(header)) ||
        ::fdatasync(fd) != 0) {
      return absl::InternalError(Errno("cannot write event log header to", path));
    }
    writer->synced_end_ = kEventLogHeaderBytes;
    return writer;
  }
  char header[kEventLogHeaderBytes];
  size_t got;
  VREC_RETURN_IF_ERROR(PreadFull(fd, header, sizeof(header), 0, &got));
  TimestampMs created_ms;
  VREC_RETURN_IF_ERROR(DecodeFileHeader(header, got, path, &created_ms));
  VREC_ASSIGN_OR_RETURN(const Scan scan, ScanLog(fd, file_size));
  if (scan.valid_end < file_size) {
    // Truncating must keep every acknowledged event; without that count, only a torn tail goes.
    if (scan.events < options.acknowledged_events) {
      return absl::DataLossError(absl::StrCat(
          path, ": the log's valid blocks end at byte ", scan.valid_end, " with ", scan.events, " events, but ",
          options.acknowledged_events, " were acknowledged; a block after them is damaged. The file is left as it "
          "is: restore it from a replica or backup"));
    }
    if (scan.rest == BlockState::kCorrupt && options.acknowledged_events == 0) {
      return absl::DataLossError(absl::StrCat(path, ": corrupt block at byte ", scan.valid_end, ", ",
                                              file_size - scan.valid_end, " bytes before the end"));
    }
    if (::ftruncate(fd, static_cast<off_t>(scan.valid_end)) != 0 || ::fdatasync(fd) != 0) {
      return absl::InternalError(Errno("cannot truncate the torn end of", path));
    }
    writer->truncated_bytes_ = file_size - scan.valid_end;
  }
  writer->event_count_ = scan.events;
  writer->synced_end_ = scan.valid_end;
  writer->synced_count_ = scan.events;
  return writer;
}

absl::Status EventLogWriter::RollBack(absl::Status failure) {
  buffer_.clear();
  ids_.clear();
  event_count_ = synced_count_;
  if (::ftruncate(fd_, static_cast<off_t>(synced_end_)) != 0) {
    broken_ = absl::InternalError(absl::StrCat(Errno("cannot roll back", path_), " after: ", failure.message()));
    return broken_;
  }
  return failure;
}

absl::Status EventLogWriter::Append(const Event& event) {
  VREC_RETURN_IF_ERROR(broken_);
  buffer_.push_back(event);
  ids_.push_back(0);
  ++event_count_;
  if (buffer_.size() >= options_.block_records) return Flush();
  return absl::OkStatus();
}

absl::Status EventLogWriter::AppendBatch(absl::Span<const Event> events, absl::Span<const uint64_t> event_ids) {
  VREC_RETURN_IF_ERROR(broken_);
  if (!event_ids.empty() && event_ids.size() != events.size()) {
    return absl::InvalidArgumentError("event_ids must be empty or one per event");
  }
  buffer_.insert(buffer_.end(), events.begin(), events.end());
  if (event_ids.empty()) {
    ids_.resize(buffer_.size(), 0);
  } else {
    ids_.insert(ids_.end(), event_ids.begin(), event_ids.end());
  }
  event_count_ += events.size();
  return absl::OkStatus();
}

absl::Status EventLogWriter::WriteBlock(const Event* events, const uint64_t* ids, uint32_t count) {
  const bool with_ids = std::any_of(ids, ids + count, [](uint64_t id) { return id != 0; });
  const size_t event_bytes = static_cast<size_t>(count) * sizeof(Event);
  const size_t payload_bytes = event_bytes + (with_ids ? count * sizeof(uint64_t) : 0);
  std::vector<char> block(sizeof(BlockHeader) + payload_bytes);
  std::memcpy(block.data() + sizeof(BlockHeader), events, event_bytes);
  if (with_ids) std::memcpy(block.data() + sizeof(BlockHeader) + event_bytes, ids, count * sizeof(uint64_t));
  BlockHeader header{with_ids ? kIdBlockMagic : kBlockMagic, count,
                     Crc32c(block.data() + sizeof(BlockHeader), payload_bytes), 0};
  header.header_crc = Crc32c(&header, 12);
  std::memcpy(block.data(), &header, sizeof(header));
  size_t written = 0;
  while (written < block.size()) {
    const ssize_t n = ::write(fd_, block.data() + written, block.size() - written);
    if (n < 0) {
      if (errno == EINTR) continue;
      return absl::InternalError(Errno("cannot append to event log", path_));
    }
    written += static_cast<size_t>(n);
  }
  return absl::OkStatus();
}

absl::Status EventLogWriter::Flush() {
  if (fd_ < 0) return absl::FailedPreconditionError("event log writer is closed");
  VREC_RETURN_IF_ERROR(broken_);
  size_t done = 0;
  while (done < buffer_.size()) {
    const uint32_t count = static_cast<uint32_t>(
        std::min<size_t>(buffer_.size() - done, options_.block_records));
    if (absl::Status s = WriteBlock(buffer_.data() + done, ids_.data() + done, count); !s.ok()) return RollBack(s);
    done += count;
  }
  buffer_.clear();
  ids_.clear();
  return absl::OkStatus();
}

absl::Status EventLogWriter::Sync() {
  VREC_RETURN_IF_ERROR(Flush());
  if (::fdatasync(fd_) != 0) return RollBack(absl::InternalError(Errno("cannot sync", path_)));
  struct stat st;
  if (::fstat(fd_, &st) != 0) return RollBack(absl::InternalError(Errno("cannot stat", path_)));
  synced_end_ = static_cast<uint64_t>(st.st_size);
  synced_count_ = event_count_;
  return absl::OkStatus();
}

absl::Status EventLogWriter::Close() {
  if (fd_ < 0) return absl::OkStatus();
  absl::Status status = broken_.ok() ? Flush() : broken_;
  if (::close(fd_) != 0 && status.ok()) status = absl::InternalError(Errno("cannot close", path_));
  fd_ = -1;
  return status;
}

EventLogReader::EventLogReader(std::string path, std::FILE* file,
                               const EventLogReaderOptions& options)
    : path_(std::move(path)), file_(file), options_(options) {}

EventLogReader::~EventLogReader() {
  if (file_ != nullptr) std::fclose(file_);
}

absl::StatusOr<std::unique_ptr<EventLogReader>> EventLogReader::Open(
    const std::string& path, const EventLogReaderOptions& options) {
  std::FILE* file = std::fopen(path.c_str(), "rb");
  if (file == nullptr) {
    if (errno == ENOENT) return absl::NotFoundError(absl::StrCat("no event log at ", path));
    return absl::InternalError(Errno("cannot open event log", path));
  }
  std::unique_ptr<EventLogReader> reader(new EventLogReader(path, file, options));
  std::setvbuf(file, nullptr, _IOFBF, 1 << 20);
  struct stat st;
  if (::fstat(::fileno(file), &st) == 0) reader->file_bytes_ = static_cast<uint64_t>(st.st_size);
  char header[kEventLogHeaderBytes];
  const size_t got = std::fread(header, 1, sizeof(header), file);
  VREC_RETURN_IF_ERROR(DecodeFileHeader(header, got, path, &reader->created_ms_));
  reader->offset_ = kEventLogHeaderBytes;
  return reader;
}

absl::StatusOr<absl::Span<const Event>> EventLogReader::NextBlock() {
  BlockHeader header;
  const size_t got = std::fread(&header, 1, sizeof(header), file_);
  if (got == 0) return absl::Span<const Event>();
  bool payload_ok = false;
  size_t read = got;
  block_ids_.clear();
  if (got == sizeof(header) && HeaderValid(header)) {
    block_.resize(header.count);
    const size_t event_bytes = static_cast<size_t>(header.count) * sizeof(Event);
    size_t payload_got = std::fread(block_.data(), 1, event_bytes, file_);
    uint32_t crc = Crc32c(block_.data(), payload_got);
    bool complete = payload_got == event_bytes;
    if (complete && header.magic == kIdBlockMagic) {
      block_ids_.resize(header.count);
      const size_t id_bytes = header.count * sizeof(uint64_t);
      const size_t ids_got = std::fread(block_ids_.data(), 1, id_bytes, file_);
      crc = Crc32c(block_ids_.data(), ids_got, crc);
      payload_got += ids_got;
      complete = ids_got == id_bytes;
    }
    read += payload_got;
    payload_ok = complete && crc == header.payload_crc;
  }
  // The writer's rule (ClassifyBlock), on the file's current size.
  struct stat st;
  const uint64_t size = ::fstat(::fileno(file_), &st) == 0 ? static_cast<uint64_t>(st.st_size) : offset_ + read;
  const uint64_t remaining = size > offset_ ? size - offset_ : read;
  const BlockState state = ClassifyBlock(header, got, payload_ok, remaining);
  if (state == BlockState::kValid) {
    offset_ += read;
    return absl::Span<const Event>(block_.data(), block_.size());
  }
  if (state == BlockState::kCorrupt) {
    return absl::DataLossError(absl::StrCat(path_, got == sizeof(header) && HeaderValid(header)
                                                       ? ": block checksum mismatch at byte "
                                                       : ": corrupt block header at byte ",
                                            offset_, ", ", remaining, " bytes before the end"));
  }
  if (!options_.tolerate_torn_tail) {
    return absl::DataLossError(absl::StrCat(path_, ": incomplete final block at byte ", offset_));
  }
  torn_tail_bytes_ = remaining;
  return absl::Span<const Event>();
}

absl::Status ForEachEventBlock(const std::string& path,
                               const std::function<absl::Status(absl::Span<const Event>)>& fn) {
  VREC_ASSIGN_OR_RETURN(std::unique_ptr<EventLogReader> reader, EventLogReader::Open(path));
  while (true) {
    VREC_ASSIGN_OR_RETURN(absl::Span<const Event> block, reader->NextBlock());
    if (block.empty()) return absl::OkStatus();
    VREC_RETURN_IF_ERROR(fn(block));
  }
}

absl::StatusOr<std::vector<Event>> ReadEventLog(const std::string& path) {
  std::vector<Event> events;
  VREC_RETURN_IF_ERROR(ForEachEventBlock(path, [&](absl::Span<const Event> block) {
    events.insert(events.end(), block.begin(), block.end());
    return absl::OkStatus();
  }));
  return events;
}

absl::Status WriteEventLog(const std::string& path, absl::Span<const Event> events) {
  if (::unlink(path.c_str()) != 0 && errno != ENOENT) {
    return absl::InternalError(Errno("cannot replace", path));
  }
  VREC_ASSIGN_OR_RETURN(std::unique_ptr<EventLogWriter> writer, EventLogWriter::Open(path));
  VREC_RETURN_IF_ERROR(writer->AppendBatch(events));
  VREC_RETURN_IF_ERROR(writer->Sync());
  return writer->Close();
}

}  // namespace vrec
