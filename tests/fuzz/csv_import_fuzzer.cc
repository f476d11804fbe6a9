// Fuzz target: `vrec import --format csv` (data/import.h and data/csv_reader.h) on the input as
// the CSV file. The first byte picks the options (time unit, skipping bad rows). Invariants: an
// import either fails with a clear error or writes a world whose event log reads back with as
// many events as the manifest says.
#include <cstdint>
#include <filesystem>
#include <string>

#include "common/event_log.h"
#include "common/world.h"
#include "data/import.h"
#include "tests/fuzz/fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string input = vrec::fuzz::ScratchDir() + "/events.csv";
  const std::string out = vrec::fuzz::ScratchDir() + "/world";
  vrec::data::ImportOptions options;
  options.format = vrec::data::ImportFormat::kCsv;
  options.input = input;
  if (size > 0) {
    options.time_unit = (data[0] & 1) ? "ms" : "s";
    options.skip_bad = (data[0] & 2) != 0;
    ++data;
    --size;
  }
  vrec::fuzz::WriteFile(input, data, size);
  std::error_code ec;
  std::filesystem::remove_all(out, ec);
  auto summary = vrec::data::ImportWorld(options, out);
  if (!summary.ok()) {
    const absl::StatusCode code = summary.status().code();
    if (code != absl::StatusCode::kInvalidArgument && code != absl::StatusCode::kNotFound &&
        code != absl::StatusCode::kFailedPrecondition && code != absl::StatusCode::kOutOfRange) {
      std::fprintf(stderr, "%s\n", summary.status().ToString().c_str());
      vrec::fuzz::Fail("import failed with an unexpected error code");
    }
    return 0;
  }
  auto events = vrec::ReadEventLog(vrec::WorldEventsPath(out));
  if (!events.ok() || events->size() != summary->manifest.num_events) {
    vrec::fuzz::Fail("imported world's event log does not match its manifest");
  }
  if (!vrec::ReadCatalog(out).ok()) vrec::fuzz::Fail("imported world's catalog does not read back");
  return 0;
}
