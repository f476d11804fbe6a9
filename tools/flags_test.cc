#include "tools/flags.h"

#include <vector>

#include "gtest/gtest.h"

namespace vrec {
namespace {

absl::Status ParseArgs(FlagSet& flags, std::vector<std::string> args) {
  std::vector<char*> argv = {const_cast<char*>("vrec"), const_cast<char*>("cmd")};
  for (std::string& a : args) argv.push_back(a.data());
  return flags.Parse(static_cast<int>(argv.size()), argv.data());
}

TEST(FlagsTest, ParsesFormsAndDefaults) {
  std::string out;
  uint32_t users = 7;
  double rate = 0.5;
  bool progress = true;
  FlagSet flags("vrec cmd", "test");
  flags.String("out", &out, "dir");
  flags.Uint32("users", &users, "n");
  flags.Double("rate", &rate, "r");
  flags.Bool("progress", &progress, "p");
  ASSERT_TRUE(ParseArgs(flags, {"--out=/tmp/w", "--users", "12", "--noprogress"}).ok());
  EXPECT_EQ(out, "/tmp/w");
  EXPECT_EQ(users, 12u);
  EXPECT_EQ(rate, 0.5);
  EXPECT_FALSE(progress);
  EXPECT_NE(flags.Usage().find("--users=VALUE"), std::string::npos);
  EXPECT_NE(flags.Usage().find("(default: 0.5)"), std::string::npos);
}

TEST(FlagsTest, ClearErrors) {
  uint32_t users = 0;
  std::string out;
  FlagSet flags("vrec cmd", "test");
  flags.Uint32("users", &users, "n");
  flags.String("out", &out, "dir");
  flags.Require("out");
  absl::Status s = ParseArgs(flags, {"--out=x", "--user=3"});
  EXPECT_NE(s.message().find("unknown flag --user"), std::string::npos) << s;
  s = ParseArgs(flags, {"--out=x", "--users=-3"});
  EXPECT_NE(s.message().find("bad value '-3' for --users"), std::string::npos) << s;
  FlagSet again("vrec cmd", "test");
  again.String("out", &out, "dir");
  again.Require("out");
  s = ParseArgs(again, {});
  EXPECT_NE(s.message().find("missing required flag --out"), std::string::npos) << s;
  s = ParseArgs(again, {"stray"});
  EXPECT_NE(s.message().find("unexpected argument 'stray'"), std::string::npos) << s;
  FlagSet help("vrec cmd", "test");
  ASSERT_TRUE(ParseArgs(help, {"--help"}).ok());
  EXPECT_TRUE(help.help_requested());
}

}  // namespace
}  // namespace vrec
