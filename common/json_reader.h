// Strict JSON (RFC 8259) for request bodies and log lines, parsed by RapidJSON (rapidjson-dev)
// into a small tree: objects, arrays, strings (escapes and \u sequences as UTF-8; invalid UTF-8
// and lone surrogates are errors), numbers, booleans and null. Size, nesting depth and element
// count are limited while parsing, repeated keys are an error, and parsing is linear in the
// input; errors name the byte offset.
#ifndef VREC_COMMON_JSON_READER_H_
#define VREC_COMMON_JSON_READER_H_

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace vrec {

class TreeBuilder;

class JsonValue {
 public:
  enum class Type { kNull, kBool, kNumber, kString, kArray, kObject };

  Type type() const { return type_; }
  bool is_null() const { return type_ == Type::kNull; }
  bool is_bool() const { return type_ == Type::kBool; }
  bool is_number() const { return type_ == Type::kNumber; }
  bool is_string() const { return type_ == Type::kString; }
  bool is_array() const { return type_ == Type::kArray; }
  bool is_object() const { return type_ == Type::kObject; }

  bool bool_value() const { return bool_; }
  double number() const { return number_; }
  // True when the number was written as an integer (no fraction or exponent) that fits.
  bool is_integer() const { return is_integer_; }
  int64_t integer() const { return integer_; }
  const std::string& string() const { return string_; }
  const std::vector<JsonValue>& array() const { return array_; }
  // Members in document order (duplicate keys are rejected by the parser).
  const std::vector<std::pair<std::string, JsonValue>>& members() const { return members_; }
  // The member named `key`, or nullptr.
  const JsonValue* Find(absl::string_view key) const;

  static const char* TypeName(Type type);

 private:
  friend class TreeBuilder;
  Type type_ = Type::kNull;
  bool bool_ = false;
  double number_ = 0;
  bool is_integer_ = false;
  int64_t integer_ = 0;
  std::string string_;
  std::vector<JsonValue> array_;
  std::vector<std::pair<std::string, JsonValue>> members_;
};

struct JsonLimits {
  size_t max_bytes = size_t{16} << 20;
  int max_depth = 32;              // open objects and arrays
  size_t max_elements = 1 << 20;   // values of every kind, containers included
  size_t max_members = 1 << 20;    // members of any one object
};

// InvalidArgument naming the offset and the problem.
absl::StatusOr<JsonValue> ParseJson(absl::string_view text, const JsonLimits& limits = JsonLimits());

}  // namespace vrec

#endif  // VREC_COMMON_JSON_READER_H_
