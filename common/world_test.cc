#include "common/world.h"

#include <cstdlib>
#include <fstream>

#include "gtest/gtest.h"

namespace vrec {
namespace {

std::string TempDir(const std::string& name) {
  return std::string(std::getenv("TEST_TMPDIR")) + "/" + name;
}

TEST(WorldTest, ManifestRoundTrip) {
  const std::string dir = TempDir("world_manifest/nested");
  ASSERT_TRUE(MakeDirs(dir).ok());
  WorldManifest m;
  m.kind = "synthetic";
  m.num_users = 3;
  m.num_videos = 4;
  m.num_events = 5;
  m.start_ms = 100;
  m.end_ms = 200;
  m.extra["seed"] = "9";
  ASSERT_TRUE(WriteWorldManifest(dir, m).ok());
  auto read = ReadWorldManifest(dir);
  ASSERT_TRUE(read.ok()) << read.status();
  EXPECT_EQ(read->kind, "synthetic");
  EXPECT_EQ(read->num_events, 5u);
  EXPECT_EQ(read->end_ms, 200);
  EXPECT_EQ(read->extra.at("seed"), "9");
}

TEST(WorldTest, KeyValueFileRefusesWhatItCouldNotWriteBack) {
  // Found by tests/fuzz/bundle_fuzzer: a value with a control character read fine, but Write()
  // changes it, so a MANIFEST did not round-trip.
  const std::string path = TempDir("kv_control");
  for (const std::string text : {std::string("a=1\nworld=\r\0x\n", 15), std::string("a=x\ty\n")}) {
    std::ofstream(path, std::ios::binary) << text;
    auto read = KeyValueFile::Read(path);
    ASSERT_FALSE(read.ok()) << text;
    EXPECT_NE(read.status().message().find("control character"), std::string::npos) << read.status();
  }
  std::ofstream(path, std::ios::binary) << "a=1\r\nb=two words\n";  // CRLF line ends are fine
  auto read = KeyValueFile::Read(path);
  ASSERT_TRUE(read.ok()) << read.status();
  EXPECT_EQ(read->GetOr("b", ""), "two words");
}

TEST(WorldTest, MissingManifestSaysNotAWorld) {
  auto read = ReadWorldManifest(TempDir("nothing_here"));
  ASSERT_FALSE(read.ok());
  EXPECT_EQ(read.status().code(), absl::StatusCode::kNotFound);
  EXPECT_NE(read.status().message().find("not a world directory"), std::string::npos);
}

TEST(WorldTest, UsersAndVideosRoundTripAndSanitize) {
  const std::string dir = TempDir("world_catalog");
  ASSERT_TRUE(MakeDirs(dir).ok());
  std::vector<User> users = {{1, "DE", "de", 3, 1000}, {5, "", "", 0, 0}};
  Video v;
  v.id = 9;
  v.category = "music";
  v.tags = {"live", "jazz|blues"};
  v.creator_id = 4;
  v.duration_ms = 60000;
  v.language = "en";
  v.upload_ms = 500;
  v.title = "a\ttitle\nwith breaks";
  Video w;
  w.id = 2;
  ASSERT_TRUE(WriteUsers(WorldUsersPath(dir), users).ok());
  ASSERT_TRUE(WriteVideos(WorldVideosPath(dir), {v, w}).ok());
  auto catalog = ReadCatalog(dir);
  ASSERT_TRUE(catalog.ok()) << catalog.status();
  ASSERT_NE(catalog->FindUser(1), nullptr);
  EXPECT_EQ(catalog->FindUser(1)->country, "DE");
  EXPECT_EQ(catalog->FindUser(2), nullptr);
  const Video* read = catalog->FindVideo(9);
  ASSERT_NE(read, nullptr);
  EXPECT_EQ(read->tags, (std::vector<std::string>{"live", "jazz blues"}));
  EXPECT_EQ(read->title, "a title with breaks");
  EXPECT_EQ(read->creator_id, 4u);
  EXPECT_EQ(catalog->FindVideo(2)->creator_id, kInvalidId);
  EXPECT_EQ(catalog->video_id_limit(), 10u);
}

TEST(WorldTest, BadRowNamesFileAndLine) {
  const std::string dir = TempDir("world_bad");
  ASSERT_TRUE(MakeDirs(dir).ok());
  {
    std::ofstream out(WorldUsersPath(dir));
    out << "user_id\tcountry\tlanguage\tage_bucket\tsignup_ms\n1\tDE\tde\t3\t0\nx\tDE\tde\t3\t0\n";
  }
  auto users = ReadUsers(WorldUsersPath(dir));
  ASSERT_FALSE(users.ok());
  EXPECT_EQ(users.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(users.status().message().find("users.tsv:3"), std::string::npos)
      << users.status();
}

}  // namespace
}  // namespace vrec
