// Proves RocksDB links and runs: a write, a reopen and a read in TEST_TMPDIR.
#include <cstdlib>
#include <memory>
#include <string>

#include "gtest/gtest.h"
#include "rocksdb/db.h"
#include "rocksdb/options.h"

TEST(RocksdbLinkTest, WriteReopenRead) {
  const std::string path = std::string(std::getenv("TEST_TMPDIR")) + "/rocksdb_link_test";
  rocksdb::Options options;
  options.create_if_missing = true;
  {
    rocksdb::DB* raw = nullptr;
    ASSERT_TRUE(rocksdb::DB::Open(options, path, &raw).ok());
    std::unique_ptr<rocksdb::DB> db(raw);
    ASSERT_TRUE(db->Put(rocksdb::WriteOptions(), "video:42", "cats").ok());
  }
  rocksdb::DB* raw = nullptr;
  ASSERT_TRUE(rocksdb::DB::Open(options, path, &raw).ok());
  std::unique_ptr<rocksdb::DB> db(raw);
  std::string value;
  ASSERT_TRUE(db->Get(rocksdb::ReadOptions(), "video:42", &value).ok());
  EXPECT_EQ(value, "cats");
  EXPECT_TRUE(db->Get(rocksdb::ReadOptions(), "video:43", &value).IsNotFound());
}
