// Proves RapidJSON works: a small document parses and its values read back.
#include "gtest/gtest.h"
#include "rapidjson/document.h"

TEST(RapidjsonLinkTest, ParsesASmallDocument) {
  rapidjson::Document d;
  d.Parse(R"({"user": 7, "videos": [1, 2, 3], "name": "caf\u00e9"})");
  ASSERT_FALSE(d.HasParseError());
  EXPECT_EQ(d["user"].GetInt(), 7);
  EXPECT_EQ(d["videos"].Size(), 3u);
  EXPECT_STREQ(d["name"].GetString(), "caf\xc3\xa9");
}
