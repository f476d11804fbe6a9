#include "common/event_log.h"

#include <sys/resource.h>
#include <unistd.h>

#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>

#include "common/crc32c.h"
#include "gtest/gtest.h"

namespace vrec {
namespace {

std::string TempPath(const std::string& name) {
  const std::string path = std::string(std::getenv("TEST_TMPDIR")) + "/" + name;
  std::remove(path.c_str());
  return path;
}

Event MakeEvent(int i) {
  Event e;
  e.timestamp_ms = 1000 + i;
  e.request_id = 77 + i / 10;
  e.user_id = i % 13;
  e.video_id = i * 7;
  e.type = static_cast<EventType>(i % kNumEventTypes);
  e.watch_time_ms = e.type == EventType::kWatch ? 1000 * i : 0;
  e.position = static_cast<uint16_t>(i % 10);
  e.device = Device::kMobile;
  return e;
}

bool SameEvent(const Event& a, const Event& b) {
  return a.timestamp_ms == b.timestamp_ms && a.request_id == b.request_id &&
         a.user_id == b.user_id && a.video_id == b.video_id && a.type == b.type &&
         a.watch_time_ms == b.watch_time_ms && a.position == b.position && a.device == b.device;
}

long FileSize(const std::string& path) {
  std::ifstream in(path, std::ios::binary | std::ios::ate);
  return static_cast<long>(in.tellg());
}

TEST(Crc32cTest, KnownVector) {
  // RFC 3720 test vector: 32 bytes of zeros.
  char zeros[32] = {};
  EXPECT_EQ(Crc32c(zeros, sizeof(zeros)), 0x8A9136AAu);
  EXPECT_EQ(Crc32c("123456789", 9), 0xE3069283u);
}

TEST(EventLogTest, RoundTripAcrossBlocksAndReopen) {
  const std::string path = TempPath("roundtrip.log");
  {
    EventLogWriterOptions options;
    options.block_records = 3;
    options.created_ms = 42;
    auto writer = EventLogWriter::Open(path, options);
    ASSERT_TRUE(writer.ok()) << writer.status();
    for (int i = 0; i < 10; ++i) ASSERT_TRUE((*writer)->Append(MakeEvent(i)).ok());
    ASSERT_TRUE((*writer)->Close().ok());
  }
  {
    auto writer = EventLogWriter::Open(path);  // appends
    ASSERT_TRUE(writer.ok()) << writer.status();
    EXPECT_EQ((*writer)->event_count(), 10u);
    for (int i = 10; i < 15; ++i) ASSERT_TRUE((*writer)->Append(MakeEvent(i)).ok());
    ASSERT_TRUE((*writer)->Sync().ok());
  }
  auto reader = EventLogReader::Open(path);
  ASSERT_TRUE(reader.ok());
  EXPECT_EQ((*reader)->created_ms(), 42);
  auto events = ReadEventLog(path);
  ASSERT_TRUE(events.ok()) << events.status();
  ASSERT_EQ(events->size(), 15u);
  for (int i = 0; i < 15; ++i) EXPECT_TRUE(SameEvent((*events)[i], MakeEvent(i))) << i;
}

TEST(EventLogTest, TornTailIsReportedThenTruncatedByWriter) {
  const std::string path = TempPath("torn.log");
  std::vector<Event> events;
  for (int i = 0; i < 100; ++i) events.push_back(MakeEvent(i));
  ASSERT_TRUE(WriteEventLog(path, events).ok());
  const long full = FileSize(path);
  // Append half of a second block by hand: a crash mid-write.
  ASSERT_TRUE(WriteEventLog(path + ".b", std::vector<Event>(events.begin(), events.begin() + 5)).ok());
  {
    std::ifstream extra(path + ".b", std::ios::binary);
    std::string bytes((std::istreambuf_iterator<char>(extra)), std::istreambuf_iterator<char>());
    std::ofstream out(path, std::ios::binary | std::ios::app);
    out.write(bytes.data() + kEventLogHeaderBytes, 40);  // header + part of the first record
  }
  ASSERT_EQ(FileSize(path), full + 40);

  auto tolerant = ReadEventLog(path);
  ASSERT_TRUE(tolerant.ok()) << tolerant.status();
  EXPECT_EQ(tolerant->size(), 100u);

  EventLogReaderOptions strict;
  strict.tolerate_torn_tail = false;
  auto reader = EventLogReader::Open(path, strict);
  ASSERT_TRUE(reader.ok());
  absl::StatusOr<absl::Span<const Event>> block;
  do {
    block = (*reader)->NextBlock();
  } while (block.ok() && !block->empty());
  EXPECT_EQ(block.status().code(), absl::StatusCode::kDataLoss);

  auto writer = EventLogWriter::Open(path);
  ASSERT_TRUE(writer.ok()) << writer.status();
  EXPECT_EQ((*writer)->truncated_bytes(), 40u);
  EXPECT_EQ((*writer)->event_count(), 100u);
  ASSERT_TRUE((*writer)->Append(MakeEvent(100)).ok());
  ASSERT_TRUE((*writer)->Close().ok());
  auto after = ReadEventLog(path);
  ASSERT_TRUE(after.ok());
  ASSERT_EQ(after->size(), 101u);
  EXPECT_TRUE(SameEvent(after->back(), MakeEvent(100)));
}

TEST(EventLogTest, CorruptMiddleBlockIsDataLoss) {
  const std::string path = TempPath("corrupt.log");
  {
    EventLogWriterOptions options;
    options.block_records = 4;
    auto writer = EventLogWriter::Open(path, options);
    ASSERT_TRUE(writer.ok());
    for (int i = 0; i < 12; ++i) ASSERT_TRUE((*writer)->Append(MakeEvent(i)).ok());
  }
  {
    std::fstream f(path, std::ios::binary | std::ios::in | std::ios::out);
    f.seekp(kEventLogHeaderBytes + kEventLogBlockHeaderBytes + 5);  // inside block 1's payload
    f.put('\x7f');
  }
  auto events = ReadEventLog(path);
  ASSERT_FALSE(events.ok());
  EXPECT_EQ(events.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_NE(events.status().message().find("checksum"), std::string::npos);
  // The writer classifies it the same way: corruption, not a torn tail to truncate.
  auto writer = EventLogWriter::Open(path);
  EXPECT_EQ(writer.status().code(), absl::StatusCode::kDataLoss) << writer.status();
}

TEST(EventLogTest, BlocksWithEventIdsRoundTripAndAreChecked) {
  const std::string path = TempPath("ids.log");
  std::vector<Event> events;
  for (int i = 0; i < 6; ++i) events.push_back(MakeEvent(i));
  const std::vector<uint64_t> ids = {EventIdHash("x"), 0, EventIdHash("y")};
  {
    auto writer = EventLogWriter::Open(path);
    ASSERT_TRUE(writer.ok());
    ASSERT_TRUE((*writer)->AppendBatch(absl::MakeConstSpan(events).subspan(0, 3), ids).ok());
    ASSERT_TRUE((*writer)->Flush().ok());
    ASSERT_TRUE((*writer)->AppendBatch(absl::MakeConstSpan(events).subspan(3, 3)).ok());
    ASSERT_TRUE((*writer)->Flush().ok());
    ASSERT_TRUE((*writer)->AppendBatch(absl::MakeConstSpan(events).subspan(0, 2), ids).code() ==
                absl::StatusCode::kInvalidArgument);
  }
  const long plain_block = static_cast<long>(kEventLogBlockHeaderBytes + 3 * sizeof(Event));
  EXPECT_EQ(FileSize(path), static_cast<long>(kEventLogHeaderBytes) + plain_block + 3 * 8 + plain_block);
  auto reader = EventLogReader::Open(path);
  ASSERT_TRUE(reader.ok());
  auto first = (*reader)->NextBlock();
  ASSERT_TRUE(first.ok() && first->size() == 3u);
  EXPECT_TRUE(SameEvent((*first)[2], events[2]));
  EXPECT_EQ(std::vector<uint64_t>((*reader)->block_event_ids().begin(), (*reader)->block_event_ids().end()), ids);
  auto second = (*reader)->NextBlock();
  ASSERT_TRUE(second.ok() && second->size() == 3u);
  EXPECT_TRUE((*reader)->block_event_ids().empty());
  EXPECT_TRUE(SameEvent((*second)[0], events[3]));
  // The ids are under the block's checksum: a flipped id byte is corruption, as in the events.
  {
    std::fstream f(path, std::ios::binary | std::ios::in | std::ios::out);
    f.seekp(kEventLogHeaderBytes + kEventLogBlockHeaderBytes + 3 * sizeof(Event) + 4);
    f.put('\x7f');
  }
  auto damaged = ReadEventLog(path);
  EXPECT_EQ(damaged.status().code(), absl::StatusCode::kDataLoss);
  // A torn id block at the end is a torn tail like any other.
  const std::string torn = TempPath("ids_torn.log");
  {
    auto writer = EventLogWriter::Open(torn);
    ASSERT_TRUE(writer.ok());
    ASSERT_TRUE((*writer)->AppendBatch(absl::MakeConstSpan(events).subspan(0, 3), ids).ok());
  }
  ASSERT_EQ(::truncate(torn.c_str(), FileSize(torn) - 5), 0);
  auto tolerant = ReadEventLog(torn);
  ASSERT_TRUE(tolerant.ok()) << tolerant.status();
  EXPECT_TRUE(tolerant->empty());
  auto reopened = EventLogWriter::Open(torn);
  ASSERT_TRUE(reopened.ok()) << reopened.status();
  EXPECT_EQ((*reopened)->event_count(), 0u);
}

TEST(EventLogTest, OneWriterAtATime) {
  const std::string path = TempPath("locked.log");
  auto first = EventLogWriter::Open(path);
  ASSERT_TRUE(first.ok()) << first.status();
  auto second = EventLogWriter::Open(path);
  EXPECT_EQ(second.status().code(), absl::StatusCode::kFailedPrecondition) << second.status();
  ASSERT_TRUE((*first)->Close().ok());
  EXPECT_TRUE(EventLogWriter::Open(path).ok());
}

// A damaged end is truncated only when every acknowledged event stays; otherwise the file is
// left untouched and opening fails.
TEST(EventLogTest, ReopeningNeverTruncatesAcknowledgedEvents) {
  const std::string path = TempPath("acked.log");
  {
    EventLogWriterOptions options;
    options.block_records = 4;
    auto writer = EventLogWriter::Open(path, options);
    ASSERT_TRUE(writer.ok());
    for (int i = 0; i < 12; ++i) ASSERT_TRUE((*writer)->Append(MakeEvent(i)).ok());
    ASSERT_TRUE((*writer)->Sync().ok());
  }
  const long size = FileSize(path);
  {  // a byte of the last (synced, acknowledged) block's payload rots
    std::fstream f(path, std::ios::binary | std::ios::in | std::ios::out);
    f.seekp(size - 3);
    f.put('\x55');
  }
  EventLogWriterOptions acked;
  acked.acknowledged_events = 12;
  auto refused = EventLogWriter::Open(path, acked);
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kDataLoss) << refused.status();
  EXPECT_NE(refused.status().message().find("12 were acknowledged"), std::string::npos) << refused.status();
  EXPECT_EQ(FileSize(path), size);  // untouched
  // With 8 acknowledged, the damaged last block was never acknowledged: it goes.
  acked.acknowledged_events = 8;
  auto reopened = EventLogWriter::Open(path, acked);
  ASSERT_TRUE(reopened.ok()) << reopened.status();
  EXPECT_EQ((*reopened)->event_count(), 8u);
  EXPECT_EQ((*reopened)->truncated_bytes(), static_cast<uint64_t>(kEventLogBlockHeaderBytes + 4 * sizeof(Event)));
}

// A write that fails (here: the file size limit) rolls the log back to its last sync and drops
// what was buffered since; the writer keeps working afterwards, and the log holds no event of
// the failed batch, in the middle or at the end.
TEST(EventLogTest, FailedWriteRollsBackToTheLastSync) {
  const std::string path = TempPath("rollback.log");
  auto writer = EventLogWriter::Open(path);
  ASSERT_TRUE(writer.ok());
  for (int i = 0; i < 10; ++i) ASSERT_TRUE((*writer)->Append(MakeEvent(i)).ok());
  ASSERT_TRUE((*writer)->Sync().ok());
  const long synced = FileSize(path);
  std::signal(SIGXFSZ, SIG_IGN);
  struct rlimit old_limit;
  ASSERT_EQ(getrlimit(RLIMIT_FSIZE, &old_limit), 0);
  struct rlimit limit = old_limit;
  limit.rlim_cur = static_cast<rlim_t>(synced + 100);
  ASSERT_EQ(setrlimit(RLIMIT_FSIZE, &limit), 0);
  std::vector<Event> big;
  for (int i = 1000; i < 1100; ++i) big.push_back(MakeEvent(i));
  ASSERT_TRUE((*writer)->AppendBatch(big).ok());
  const absl::Status failed = (*writer)->Sync();
  ASSERT_EQ(setrlimit(RLIMIT_FSIZE, &old_limit), 0);
  EXPECT_FALSE(failed.ok());
  EXPECT_TRUE((*writer)->health().ok()) << (*writer)->health();
  EXPECT_EQ(FileSize(path), synced);
  EXPECT_EQ((*writer)->event_count(), 10u);
  ASSERT_TRUE((*writer)->Append(MakeEvent(10)).ok());
  ASSERT_TRUE((*writer)->Close().ok());  // flushes only what came after the failure
  auto events = ReadEventLog(path);
  ASSERT_TRUE(events.ok()) << events.status();
  ASSERT_EQ(events->size(), 11u);
  for (int i = 0; i < 11; ++i) EXPECT_TRUE(SameEvent((*events)[i], MakeEvent(i))) << i;
}

TEST(EventLogTest, ForeignAndMissingFilesAreClearErrors) {
  const std::string path = TempPath("foreign.log");
  { std::ofstream(path) << "user_id,video_id\n1,2\n"; }
  auto reader = EventLogReader::Open(path);
  ASSERT_FALSE(reader.ok());
  EXPECT_EQ(reader.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(reader.status().message().find("not a vrec event log"), std::string::npos);
  auto writer = EventLogWriter::Open(path);
  EXPECT_EQ(writer.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(EventLogReader::Open(TempPath("absent.log")).status().code(),
            absl::StatusCode::kNotFound);
}

TEST(EventLogTest, NewerFormatVersionIsRejected) {
  const std::string path = TempPath("v2.log");
  ASSERT_TRUE(WriteEventLog(path, {MakeEvent(1)}).ok());
  {
    std::fstream f(path, std::ios::binary | std::ios::in | std::ios::out);
    char header[kEventLogHeaderBytes];
    f.read(header, sizeof(header));
    header[8] = 2;  // version 2
    const uint32_t crc = Crc32c(header, 60);
    std::memcpy(header + 60, &crc, 4);
    f.seekp(0);
    f.write(header, sizeof(header));
  }
  auto reader = EventLogReader::Open(path);
  ASSERT_FALSE(reader.ok());
  EXPECT_NE(reader.status().message().find("version 2"), std::string::npos);
}

}  // namespace
}  // namespace vrec
