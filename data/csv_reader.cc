#include "data/csv_reader.h"

#include "absl/strings/str_cat.h"

namespace vrec::data {

absl::StatusOr<bool> CsvReader::Next(std::vector<std::string>* fields) {
  fields->clear();
  std::string line;
  if (!std::getline(*in_, line)) return false;
  record_line_ = next_line_++;
  std::string field;
  bool in_quotes = false;
  bool quoted_field = false;
  size_t i = 0;
  while (true) {
    if (i >= line.size()) {
      if (!in_quotes) break;
      // A quoted field spans lines.
      if (!std::getline(*in_, line)) {
        return absl::InvalidArgumentError(
            absl::StrCat("line ", record_line_, ": unterminated quoted field"));
      }
      ++next_line_;
      field.push_back('\n');
      i = 0;
      continue;
    }
    const char c = line[i++];
    if (in_quotes) {
      if (c == '"') {
        if (i < line.size() && line[i] == '"') {
          field.push_back('"');
          ++i;
        } else {
          in_quotes = false;
        }
      } else {
        field.push_back(c);
      }
    } else if (c == '"' && field.empty() && !quoted_field) {
      in_quotes = quoted_field = true;
    } else if (c == separator_) {
      fields->push_back(std::move(field));
      field.clear();
      quoted_field = false;
    } else if (c == '\r' && i == line.size()) {
      // Windows line ending.
    } else {
      field.push_back(c);
    }
  }
  fields->push_back(std::move(field));
  return true;
}

}  // namespace vrec::data
