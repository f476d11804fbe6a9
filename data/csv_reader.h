// RFC 4180 CSV records: quoted fields may hold the separator, doubled quotes and line breaks.
// Used by the importers; a malformed record is reported with its line number.
#ifndef VREC_DATA_CSV_READER_H_
#define VREC_DATA_CSV_READER_H_

#include <cstdint>
#include <istream>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace vrec::data {

// Not thread-safe. Reads from a stream it does not own.
class CsvReader {
 public:
  explicit CsvReader(std::istream* in, char separator = ',') : in_(in), separator_(separator) {}

  // Reads the next record into `fields`. Returns false at the end of input. On a malformed
  // record (an unterminated quote) returns InvalidArgument naming the record's first line.
  absl::StatusOr<bool> Next(std::vector<std::string>* fields);
  // Line number (1-based) where the last record returned by Next() started.
  int64_t line() const { return record_line_; }

 private:
  std::istream* in_;
  char separator_;
  int64_t next_line_ = 1;
  int64_t record_line_ = 0;
};

}  // namespace vrec::data

#endif  // VREC_DATA_CSV_READER_H_
