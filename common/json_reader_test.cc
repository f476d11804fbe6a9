#include "common/json_reader.h"

#include "gtest/gtest.h"

namespace vrec {
namespace {

TEST(JsonReaderTest, ParsesDocuments) {
  auto v = ParseJson(R"( {"a": [1, -2.5, 3e2, true, false, null], "s": "x\"\\\n\u00e9\ud83d\ude00", "o": {}} )");
  ASSERT_TRUE(v.ok()) << v.status();
  ASSERT_TRUE(v->is_object());
  const JsonValue* a = v->Find("a");
  ASSERT_NE(a, nullptr);
  ASSERT_EQ(a->array().size(), 6u);
  EXPECT_TRUE(a->array()[0].is_integer());
  EXPECT_EQ(a->array()[0].integer(), 1);
  EXPECT_FALSE(a->array()[1].is_integer());
  EXPECT_EQ(a->array()[1].number(), -2.5);
  EXPECT_FALSE(a->array()[2].is_integer());
  EXPECT_EQ(a->array()[2].number(), 300.0);
  EXPECT_TRUE(a->array()[3].bool_value());
  EXPECT_TRUE(a->array()[5].is_null());
  EXPECT_EQ(v->Find("s")->string(), "x\"\\\n\xc3\xa9\xf0\x9f\x98\x80");
  EXPECT_TRUE(v->Find("o")->is_object());
  EXPECT_EQ(v->Find("missing"), nullptr);
  auto big = ParseJson("18446744073709551616");
  ASSERT_TRUE(big.ok());
  EXPECT_FALSE(big->is_integer());  // does not fit int64
}

TEST(JsonReaderTest, RejectsMalformedInputWithOffsets) {
  for (const char* bad : {"", "{", "[1,]", "{\"a\" 1}", "{\"a\":1,\"a\":2}", "01", "1.", "\"\\x\"", "\"abc",
                          "tru", "[1] 2", "{\"a\":\"\x01\"}", "\"\\ud800\"", "-", "1e"}) {
    auto v = ParseJson(bad);
    EXPECT_FALSE(v.ok()) << bad;
    if (!v.ok()) {
      EXPECT_EQ(v.status().code(), absl::StatusCode::kInvalidArgument);
      EXPECT_NE(v.status().message().find("invalid JSON at byte"), std::string::npos);
    }
  }
  std::string deep(100, '[');
  deep += std::string(100, ']');
  auto v = ParseJson(deep);
  ASSERT_FALSE(v.ok());
  EXPECT_NE(v.status().message().find("nested too deeply"), std::string::npos);
}

TEST(JsonReaderTest, RejectsBadUnicodeAndNulBytes) {
  for (const std::string bad : {std::string("\"\\udc00\""), std::string("\"\xff\""), std::string("\"\xc3\""),
                                std::string("{\"a\":1}\0", 8), std::string("[1,\0 2]", 7)}) {
    auto v = ParseJson(bad);
    EXPECT_FALSE(v.ok()) << bad;
    if (!v.ok()) EXPECT_NE(v.status().message().find("invalid JSON"), std::string::npos);
  }
}

TEST(JsonReaderTest, EnforcesSizeAndElementLimits) {
  JsonLimits limits;
  limits.max_bytes = 10;
  EXPECT_FALSE(ParseJson("[1,2,3,4,5,6]", limits).ok());
  limits = JsonLimits();
  limits.max_elements = 5;  // the array and four numbers
  EXPECT_TRUE(ParseJson("[1,2,3,4]", limits).ok());
  auto v = ParseJson("[1,2,3,4,5]", limits);
  ASSERT_FALSE(v.ok());
  EXPECT_NE(v.status().message().find("more than 5 elements"), std::string::npos);
}

// 80,000 distinct keys (the body that stalled the hand-written parser for seconds: its duplicate
// check was quadratic) parse, and a repeat of the first key at the end is found.
TEST(JsonReaderTest, ManyKeysParseAndALateDuplicateIsFound) {
  std::string body = "{";
  for (int i = 0; i < 80000; ++i) body += "\"k" + std::to_string(i) + "\":" + std::to_string(i) + ",";
  std::string unique = body;
  unique.back() = '}';
  auto v = ParseJson(unique);
  ASSERT_TRUE(v.ok()) << v.status();
  EXPECT_EQ(v->members().size(), 80000u);
  EXPECT_EQ(v->Find("k79999")->integer(), 79999);
  auto dup = ParseJson(body + "\"k0\":1}");
  ASSERT_FALSE(dup.ok());
  EXPECT_NE(dup.status().message().find("duplicate key \"k0\""), std::string::npos);
}

}  // namespace
}  // namespace vrec
