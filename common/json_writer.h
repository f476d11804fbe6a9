// A small streaming JSON writer for HTTP responses and report files. It produces compact,
// valid JSON (strings escaped, non-finite numbers written as null); it does not check
// that keys and values alternate — callers write well-formed documents.
#ifndef VREC_COMMON_JSON_WRITER_H_
#define VREC_COMMON_JSON_WRITER_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"

namespace vrec {

class JsonWriter {
 public:
  JsonWriter& BeginObject();
  JsonWriter& EndObject();
  JsonWriter& BeginArray();
  JsonWriter& EndArray();
  // Writes an object key; the next call writes its value.
  JsonWriter& Key(absl::string_view key);
  JsonWriter& String(absl::string_view value);
  JsonWriter& Int(int64_t value);
  JsonWriter& Uint(uint64_t value);
  // Up to 6 significant digits by default; NaN and infinities become null.
  JsonWriter& Double(double value, int precision = 6);
  JsonWriter& Bool(bool value);
  JsonWriter& Null();

  const std::string& str() const { return out_; }
  std::string Release() { return std::move(out_); }

 private:
  void Separate();

  std::string out_;
  std::vector<bool> first_;  // per open container: no element written yet
  bool after_key_ = false;
};

// `text` as a JSON string literal, quotes included.
std::string JsonQuote(absl::string_view text);

}  // namespace vrec

#endif  // VREC_COMMON_JSON_WRITER_H_
