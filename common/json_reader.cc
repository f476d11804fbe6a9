#include "common/json_reader.h"

#include <cmath>
#include <cstdint>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "rapidjson/encodedstream.h"
#include "rapidjson/error/en.h"
#include "rapidjson/memorystream.h"
#include "rapidjson/reader.h"

namespace vrec {

const JsonValue* JsonValue::Find(absl::string_view key) const {
  for (const auto& [name, value] : members_) {
    if (name == key) return &value;
  }
  return nullptr;
}

const char* JsonValue::TypeName(Type type) {
  switch (type) {
    case Type::kNull: return "null";
    case Type::kBool: return "boolean";
    case Type::kNumber: return "number";
    case Type::kString: return "string";
    case Type::kArray: return "array";
    case Type::kObject: return "object";
  }
  return "invalid";
}

// Builds JsonValue trees from RapidJSON's SAX events, enforcing the limits as it goes (returning
// false stops the parse at once): depth, element count, and no repeated key in an object (a hash
// set per open object: linear time however many keys).
class TreeBuilder {
 public:
  explicit TreeBuilder(const JsonLimits& limits) : limits_(limits) {}

  bool Null() { return Add(JsonValue()); }
  bool Bool(bool b) {
    JsonValue v;
    v.type_ = JsonValue::Type::kBool;
    v.bool_ = b;
    return Add(std::move(v));
  }
  bool Int(int i) { return Integer(i); }
  bool Uint(unsigned u) { return Integer(u); }
  bool Int64(int64_t i) { return Integer(i); }
  bool Uint64(uint64_t u) {
    if (u <= static_cast<uint64_t>(INT64_MAX)) return Integer(static_cast<int64_t>(u));
    return Double(static_cast<double>(u));  // does not fit int64: a number, not an integer
  }
  bool Double(double d) {
    if (!std::isfinite(d)) return Fail("number out of range");
    JsonValue v;
    v.type_ = JsonValue::Type::kNumber;
    v.number_ = d;
    return Add(std::move(v));
  }
  bool RawNumber(const char*, rapidjson::SizeType, bool) { return Fail("unexpected raw number"); }
  bool String(const char* str, rapidjson::SizeType length, bool) {
    JsonValue v;
    v.type_ = JsonValue::Type::kString;
    if (!Text(str, length, &v.string_)) return false;
    return Add(std::move(v));
  }
  bool StartObject() { return Open(JsonValue::Type::kObject); }
  bool Key(const char* str, rapidjson::SizeType length, bool) {
    Frame& top = stack_.back();
    if (top.keys.size() >= limits_.max_members) {
      return Fail(absl::StrCat("an object with more than ", limits_.max_members, " members"));
    }
    if (!Text(str, length, &top.key)) return false;
    if (!top.keys.insert(top.key).second) return Fail(absl::StrCat("duplicate key \"", top.key, "\""));
    return true;
  }
  bool EndObject(rapidjson::SizeType) { return Close(); }
  bool StartArray() { return Open(JsonValue::Type::kArray); }
  bool EndArray(rapidjson::SizeType) { return Close(); }

  const std::string& failure() const { return failure_; }
  JsonValue TakeRoot() { return std::move(root_); }

 private:
  struct Frame {
    JsonValue value;
    std::string key;                           // objects: the key of the next member
    absl::flat_hash_set<std::string> keys;     // objects: keys so far
  };

  bool Fail(std::string message) {
    failure_ = std::move(message);
    return false;
  }

  // Decoded strings must be valid Unicode: RapidJSON validates the input's bytes, but a lone
  // "\udc00" escape decodes to a surrogate (UTF-8 ED B0..BF xx), which is not.
  bool Text(const char* str, size_t length, std::string* out) {
    const absl::string_view text(str, length);
    for (size_t i = text.find('\xED'); i != absl::string_view::npos; i = text.find('\xED', i + 1)) {
      if (i + 1 < text.size() && (static_cast<unsigned char>(text[i + 1]) & 0xE0) == 0xA0) {
        return Fail("lone surrogate in string");
      }
    }
    out->assign(str, length);
    return true;
  }

  bool Integer(int64_t i) {
    JsonValue v;
    v.type_ = JsonValue::Type::kNumber;
    v.number_ = static_cast<double>(i);
    v.is_integer_ = true;
    v.integer_ = i;
    return Add(std::move(v));
  }

  bool Count() {
    if (++elements_ > limits_.max_elements) {
      return Fail(absl::StrCat("more than ", limits_.max_elements, " elements"));
    }
    return true;
  }

  bool Add(JsonValue v) {
    if (!Count()) return false;
    if (stack_.empty()) {
      root_ = std::move(v);
      return true;
    }
    Frame& top = stack_.back();
    if (top.value.type_ == JsonValue::Type::kObject) {
      top.value.members_.emplace_back(std::move(top.key), std::move(v));
      top.key.clear();
    } else {
      top.value.array_.push_back(std::move(v));
    }
    return true;
  }

  bool Open(JsonValue::Type type) {
    if (static_cast<int>(stack_.size()) >= limits_.max_depth) return Fail("nested too deeply");
    stack_.emplace_back();
    stack_.back().value.type_ = type;
    return true;
  }

  bool Close() {
    JsonValue v = std::move(stack_.back().value);
    stack_.pop_back();
    return Add(std::move(v));
  }

  const JsonLimits& limits_;
  std::vector<Frame> stack_;
  JsonValue root_;
  size_t elements_ = 0;
  std::string failure_;
};

absl::StatusOr<JsonValue> ParseJson(absl::string_view text, const JsonLimits& limits) {
  if (text.size() > limits.max_bytes) {
    return absl::InvalidArgumentError(
        absl::StrCat("invalid JSON: ", text.size(), " bytes, more than the limit of ", limits.max_bytes));
  }
  // RapidJSON reads a NUL as the end of input; no valid document holds one.
  if (const size_t nul = text.find('\0'); nul != absl::string_view::npos) {
    return absl::InvalidArgumentError(absl::StrCat("invalid JSON at byte ", nul, ": NUL byte"));
  }
  TreeBuilder builder(limits);
  rapidjson::MemoryStream memory(text.data(), text.size());
  rapidjson::EncodedInputStream<rapidjson::UTF8<>, rapidjson::MemoryStream> in(memory);
  rapidjson::Reader reader;
  // Iterative: no recursion, so depth costs no stack; the builder bounds it anyway. Not
  // kParseFullPrecisionFlag: in RapidJSON 1.1.0 (Debian's) its slow path calls clz(0) on some
  // long mantissas (undefined behaviour, found by tests/fuzz/event_json_fuzzer under UBSan).
  // The default path is within a few ULP for doubles, and integers stay exact.
  const rapidjson::ParseResult result =
      reader.Parse<rapidjson::kParseIterativeFlag | rapidjson::kParseValidateEncodingFlag>(in, builder);
  if (result.IsError()) {
    const std::string why = result.Code() == rapidjson::kParseErrorTermination
                                ? builder.failure()
                                : rapidjson::GetParseError_En(result.Code());
    return absl::InvalidArgumentError(absl::StrCat("invalid JSON at byte ", result.Offset(), ": ", why));
  }
  return builder.TakeRoot();
}

}  // namespace vrec
