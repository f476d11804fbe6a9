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

}  // namespace
}  // namespace vrec
