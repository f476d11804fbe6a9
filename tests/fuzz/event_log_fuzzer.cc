// Fuzz target: the event-log reader and the reopening writer (common/event_log.h) on a log whose
// blocks are the input (after a valid file header). Invariants: reader and writer agree on how
// many events the valid prefix holds (or both refuse the file); after the writer appends one
// event, a reader sees that prefix plus the new event.
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <string>

#include "common/event_log.h"
#include "tests/fuzz/fuzz_util.h"

namespace {

// Events in the log at `path` up to its end or first error; -1 when the reader fails.
int64_t CountEvents(const std::string& path) {
  auto reader = vrec::EventLogReader::Open(path);
  if (!reader.ok()) return -1;
  int64_t n = 0;
  while (true) {
    auto block = (*reader)->NextBlock();
    if (!block.ok()) return -1;
    if (block->empty()) return n;
    n += static_cast<int64_t>(block->size());
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const std::string header = [] {
    const std::string empty = vrec::fuzz::ScratchDir() + "/empty.log";
    if (!vrec::WriteEventLog(empty, {}).ok()) vrec::fuzz::Fail("cannot write an empty log");
    return vrec::fuzz::ReadFile(empty);
  }();
  const std::string path = vrec::fuzz::ScratchDir() + "/fuzz.log";
  std::string bytes = header;
  // The first input byte chooses between blocks after a valid header (most inputs) and a raw
  // file (the header itself fuzzed).
  const bool raw = size > 0 && data[0] == 0xFF;
  if (raw) bytes.clear();
  bytes.append(reinterpret_cast<const char*>(data) + (raw ? 1 : 0), size - (raw ? 1 : 0));
  vrec::fuzz::WriteFile(path, reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size());
  const int64_t read = CountEvents(path);
  auto writer = vrec::EventLogWriter::Open(path);
  if (!writer.ok()) return 0;  // a corrupt middle, a foreign file: refused, file untouched
  const int64_t prefix = static_cast<int64_t>((*writer)->event_count());
  if (read >= 0 && read != prefix) vrec::fuzz::Fail("reader and writer disagree on the valid prefix");
  vrec::Event e;
  e.timestamp_ms = 42;
  e.user_id = 7;
  if (!(*writer)->Append(e).ok() || !(*writer)->Sync().ok() || !(*writer)->Close().ok()) {
    vrec::fuzz::Fail("cannot append to a log the writer opened");
  }
  writer->reset();
  if (CountEvents(path) != prefix + 1) vrec::fuzz::Fail("appended event not read back after the valid prefix");
  return 0;
}
