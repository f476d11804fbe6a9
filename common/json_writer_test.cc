#include "common/json_writer.h"

#include <limits>

#include "gtest/gtest.h"

namespace vrec {
namespace {

TEST(JsonWriterTest, NestedDocument) {
  JsonWriter w;
  w.BeginObject()
      .Key("name").String("a\"b\\c\n\x01")
      .Key("items").BeginArray().Int(1).Double(0.5).Null().Bool(false).EndArray()
      .Key("empty").BeginObject().EndObject()
      .Key("nan").Double(std::numeric_limits<double>::quiet_NaN())
      .EndObject();
  EXPECT_EQ(w.str(),
            R"({"name":"a\"b\\c\n\u0001","items":[1,0.5,null,false],"empty":{},"nan":null})");
}

// Text from requests may be any bytes: well-formed UTF-8 passes through, every byte of an
// ill-formed sequence becomes U+FFFD, so the document stays valid JSON.
TEST(JsonWriterTest, InvalidUtf8IsReplaced) {
  EXPECT_EQ(JsonQuote("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x8e\xac"), "\"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x8e\xac\"");
  EXPECT_EQ(JsonQuote("a\xff" "b"), R"("a\ufffdb")");
  EXPECT_EQ(JsonQuote("\xc3"), R"("\ufffd")");                       // truncated sequence
  EXPECT_EQ(JsonQuote("\xc0\xaf"), R"("\ufffd\ufffd")");            // overlong '/'
  EXPECT_EQ(JsonQuote("\xed\xa0\x80"), R"("\ufffd\ufffd\ufffd")");  // a UTF-16 surrogate
  EXPECT_EQ(JsonQuote("\xf4\x90\x80\x80"), R"("\ufffd\ufffd\ufffd\ufffd")");  // beyond U+10FFFF
}

}  // namespace
}  // namespace vrec
