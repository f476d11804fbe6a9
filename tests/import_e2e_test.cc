// Importers end to end on crafted files, and on the real datasets when they are present.
#include <cstdlib>
#include <fstream>

#include "common/event_log.h"
#include "gtest/gtest.h"
#include "tests/testing/temp_dir.h"
#include "data/import.h"
#include "evaluation/replay.h"

namespace vrec {
namespace {

using testing::TempPath;

void WriteFile(const std::string& path, const std::string& content) {
  std::ofstream out(path, std::ios::binary);
  out << content;
}

// Writes `content` as NAME.csv and imports it into NAME_world.
absl::StatusOr<data::ImportSummary> ImportCsvText(const std::string& name, const std::string& content,
                                                  bool skip_bad) {
  const std::string input = TempPath(name + ".csv");
  WriteFile(input, content);
  data::ImportOptions options;
  options.format = data::ImportFormat::kCsv;
  options.input = input;
  options.skip_bad = skip_bad;
  return data::ImportWorld(options, TempPath(name + "_world"));
}

TEST(ImportE2eTest, GenericCsvWithStringIdsEventsAndTimeFormats) {
  const std::string input = TempPath("log.csv");
  WriteFile(input,
            "user_id,video_id,timestamp,event,value\n"
            "alice,vid-a,1700000000,click,\n"
            "alice,vid-a,1700000060,watch,45000\n"
            "bob,vid-b,2023-11-14T22:15:00Z,like,\n"
            "bob,vid-a,1699999000\n");
  data::ImportOptions options;
  options.format = data::ImportFormat::kCsv;
  options.input = input;
  const std::string out = TempPath("csv_world");
  auto summary = data::ImportWorld(options, out);
  ASSERT_TRUE(summary.ok()) << summary.status();
  EXPECT_EQ(summary->rows, 4u);
  EXPECT_TRUE(summary->remapped_users);
  EXPECT_EQ(summary->manifest.num_users, 2u);
  EXPECT_EQ(summary->manifest.num_videos, 2u);
  auto events = ReadEventLog(WorldEventsPath(out));
  ASSERT_TRUE(events.ok());
  ASSERT_EQ(events->size(), 4u);
  EXPECT_EQ((*events)[0].timestamp_ms, 1699999000000);  // sorted by time
  EXPECT_EQ((*events)[0].type, EventType::kClick);
  EXPECT_EQ((*events)[2].type, EventType::kWatch);
  EXPECT_EQ((*events)[2].watch_time_ms, 45000u);
  EXPECT_EQ((*events)[3].type, EventType::kLike);
  std::ifstream map(out + "/user_ids.tsv");
  std::string header, first;
  std::getline(map, header);
  std::getline(map, first);
  EXPECT_EQ(first, "alice\t0");
  auto catalog = ReadCatalog(out);
  ASSERT_TRUE(catalog.ok()) << catalog.status();
  // A video's upload time defaults to its first interaction.
  EXPECT_EQ(catalog->FindVideo(0)->upload_ms, 1699999000000);
}

TEST(ImportE2eTest, BadRowNamesFileAndLineOrIsSkipped) {
  const std::string csv = "1,10,1700000000\n2,20,yesterday\n3,30,1700000001,purchase\n4,40,1700000002\n";
  auto strict = ImportCsvText("bad", csv, false);
  ASSERT_FALSE(strict.ok());
  EXPECT_EQ(strict.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(strict.status().message().find("bad.csv:2: bad timestamp 'yesterday'"), std::string::npos)
      << strict.status();
  auto lenient = ImportCsvText("bad", csv, true);
  ASSERT_TRUE(lenient.ok()) << lenient.status();
  EXPECT_EQ(lenient->bad_rows, 2u);
  EXPECT_EQ(lenient->manifest.num_events, 2u);
  EXPECT_FALSE(lenient->remapped_users);  // small numeric ids are kept
  ASSERT_EQ(lenient->bad_examples.size(), 2u);
  EXPECT_NE(lenient->bad_examples[1].find("bad.csv:3: unknown event type 'purchase'"), std::string::npos);
}

TEST(ImportE2eTest, TimestampsThatWouldOverflowAreBadRows) {
  // Found by tests/fuzz/csv_import_fuzzer: 1700000000000000000 s overflowed when scaled to ms.
  const std::string csv = "1,10,1700000000\n2,20,1700000000000000000\n3,30,-5\n";
  auto strict = ImportCsvText("overflow", csv, false);
  EXPECT_NE(strict.status().message().find("overflow.csv:2: timestamp 1700000000000000000 (s) is outside 1970 to 9999"),
            std::string::npos)
      << strict.status();
  auto lenient = ImportCsvText("overflow", csv, true);
  ASSERT_TRUE(lenient.ok()) << lenient.status();
  EXPECT_EQ(lenient->bad_rows, 2u);
  EXPECT_EQ(lenient->manifest.num_events, 1u);
}

TEST(ImportE2eTest, MissingInputIsNotFound) {
  data::ImportOptions options;
  options.format = data::ImportFormat::kMovieLens;
  options.input = TempPath("no_such_folder");
  EXPECT_EQ(data::ImportWorld(options, TempPath("x")).status().code(), absl::StatusCode::kNotFound);
}

TEST(ImportE2eTest, MicroLensFormatWithCrlfAndQuotedTitles) {
  const std::string dir = TempPath("microlens_src");
  ASSERT_TRUE(MakeDirs(dir).ok());
  WriteFile(dir + "/MicroLens-50k_pairs.tsv", "1\t10 20 30\r\n2\t20 10\r\n");
  WriteFile(dir + "/MicroLens-50k_titles.csv",
            "item,title\n10,\"cats, dogs and \"\"more\"\" # Pets # Funny\"\n20,plain title\n");
  data::ImportOptions options;
  options.format = data::ImportFormat::kMicroLens;
  options.input = dir;
  auto summary = data::ImportWorld(options, TempPath("microlens_world"));
  ASSERT_TRUE(summary.ok()) << summary.status();
  EXPECT_EQ(summary->manifest.num_events, 5u);
  auto catalog = ReadCatalog(TempPath("microlens_world"));
  ASSERT_TRUE(catalog.ok()) << catalog.status();
  const Video* v = catalog->FindVideo(10);
  ASSERT_NE(v, nullptr);
  EXPECT_EQ(v->tags, (std::vector<std::string>{"pets", "funny"}));
  EXPECT_EQ(v->category, "pets");
  EXPECT_EQ(v->title, "cats, dogs and \"more\" # Pets # Funny");
  auto events = ReadEventLog(WorldEventsPath(TempPath("microlens_world")));
  ASSERT_TRUE(events.ok());
  // User 2's order survives: 20 then 10.
  std::vector<VideoId> user2;
  for (const Event& e : *events) {
    if (e.user_id == 2) user2.push_back(e.video_id);
  }
  EXPECT_EQ(user2, (std::vector<VideoId>{20, 10}));
}

TEST(ImportE2eTest, MovieLensRatingsBecomeClicksAndLikes) {
  const std::string dir = TempPath("movielens_src");
  ASSERT_TRUE(MakeDirs(dir).ok());
  WriteFile(dir + "/ratings.csv", "userId,movieId,rating,timestamp\n1,1,4.0,964982703\n1,3,2.5,964981247\n");
  WriteFile(dir + "/movies.csv", "movieId,title,genres\n1,\"Toy Story, The (1995)\",Adventure|Animation\n3,X,(no genres listed)\n");
  data::ImportOptions options;
  options.format = data::ImportFormat::kMovieLens;
  options.input = dir;
  auto summary = data::ImportWorld(options, TempPath("movielens_world"));
  ASSERT_TRUE(summary.ok()) << summary.status();
  EXPECT_EQ(summary->manifest.num_events, 3u);  // two clicks, one like
  auto catalog = ReadCatalog(TempPath("movielens_world"));
  ASSERT_TRUE(catalog.ok());
  EXPECT_EQ(catalog->FindVideo(1)->category, "Adventure");
  EXPECT_EQ(catalog->FindVideo(1)->title, "Toy Story, The (1995)");
  EXPECT_TRUE(catalog->FindVideo(3)->tags.empty());
}

// The real MicroLens-50k, read in place from ../shared/datasets (never copied).
TEST(ImportE2eTest, RealMicroLensMostPopularMatchesReference) {
  const char* root = std::getenv("VREC_DATASETS");
  const std::string dir = root == nullptr ? "" : std::string(root) + "/microlens-50k";
  if (root == nullptr || !PathExists(dir + "/MicroLens-50k_pairs.tsv")) {
    GTEST_SKIP() << "MicroLens-50k not found (set VREC_DATASETS to ../shared/datasets)";
  }
  data::ImportOptions options;
  options.format = data::ImportFormat::kMicroLens;
  options.input = dir;
  const std::string out = TempPath("real_microlens");
  auto summary = data::ImportWorld(options, out);
  ASSERT_TRUE(summary.ok()) << summary.status();
  EXPECT_EQ(summary->manifest.num_users, 50000u);
  EXPECT_EQ(summary->manifest.num_videos, 19220u);
  EXPECT_EQ(summary->manifest.num_events, 359708u);
  auto catalog = ReadCatalog(out);
  ASSERT_TRUE(catalog.ok());
  evaluation::ReplayOptions replay;
  replay.protocol = evaluation::ReplayProtocol::kLeaveLastOut;
  replay.max_test_users = 0;
  replay.show_progress = false;
  auto data = evaluation::BuildReplayData(out, *catalog, summary->manifest, replay);
  ASSERT_TRUE(data.ok()) << data.status();
  EXPECT_EQ(data->cases.size(), 50000u);
  auto popular = evaluation::MakeMostPopularSystem(*data);
  const auto results = evaluation::EvaluateSystems(*data, {popular.get()}, replay);
  // The dataset README's reference for popularity: HR@10 ~ 0.003.
  EXPECT_GT(results[0].metrics.hit, 0.002);
  EXPECT_LT(results[0].metrics.hit, 0.005);
}

}  // namespace
}  // namespace vrec
