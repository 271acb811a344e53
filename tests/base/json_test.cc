#include "base/json.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <fstream>

#include "base/file.h"

namespace kiln {
namespace {

std::string TempPath(const std::string& name) {
  return (std::filesystem::temp_directory_path() / ("kiln_json_test_" + name)).string();
}

TEST(JsonTest, FieldErrorsNameFileAndField) {
  Json j = {{"n_layer", "four"}};
  auto r = GetField<int>(j, "n_layer", "config.json");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().message(), "config.json: field 'n_layer': expected an integer, got \"four\"");
  auto m = GetField<int>(j, "n_head", "config.json");
  EXPECT_EQ(m.status().message(), "config.json: missing field 'n_head'");
  EXPECT_EQ(*GetFieldOr<int>(j, "n_head", "config.json", 4), 4);
}

TEST(JsonTest, JsonlRoundTripAndBadLine) {
  std::string path = TempPath("a.jsonl");
  ASSERT_TRUE(WriteJsonl(path, {Json{{"a", 1}}, Json{{"b", "x"}}}).ok());
  auto recs = ReadJsonl(path);
  ASSERT_TRUE(recs.ok());
  ASSERT_EQ(recs->size(), 2u);
  EXPECT_EQ((*recs)[1]["b"], "x");
  ASSERT_TRUE(WriteFileAtomic(path, "{\"a\": 1}\n{\"a\": \n").ok());
  auto bad = ReadJsonl(path);
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find(path + ":2: invalid JSON"), std::string::npos)
      << bad.status().message();
  std::remove(path.c_str());
}

TEST(JsonTest, MissingFileIsAnError) {
  auto r = ReadJsonFile("/nonexistent/kiln.json");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("/nonexistent/kiln.json: cannot open"), std::string::npos);
}

TEST(JsonTest, AtomicWriteLeavesNoTempFile) {
  std::string dir = TempPath("dir");
  std::filesystem::create_directories(dir);
  ASSERT_TRUE(WriteJsonFile(dir + "/x.json", Json{{"k", 2}}).ok());
  int files = 0;
  for (auto& e : std::filesystem::directory_iterator(dir)) {
    (void)e;
    ++files;
  }
  EXPECT_EQ(files, 1);
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace kiln

namespace kiln {
namespace {

// Found by fuzzing: these threw out of ParseJson (or overflowed the stack) instead of a Status.
TEST(JsonTest, HostileInputsAreErrorsNotCrashes) {
  auto big = ParseJson("{\"a\": 1e400}", "big.json");
  ASSERT_FALSE(big.ok());
  EXPECT_NE(std::string(big.status().message()).find("big.json: invalid JSON"), std::string::npos)
      << big.status();
  auto huge_int = ParseJson("[77777777777777777E7777]", "int.json");
  EXPECT_FALSE(huge_int.ok());
  std::string deep(300000, '[');
  deep += std::string(300000, ']');
  auto d = ParseJson(deep, "deep.json");
  ASSERT_FALSE(d.ok());
  EXPECT_NE(std::string(d.status().message()).find("nested deeper than"), std::string::npos)
      << d.status();
  std::string ok_depth = std::string(100, '[') + std::string(100, ']');
  EXPECT_TRUE(ParseJson(ok_depth, "ok.json").ok());
}

}  // namespace
}  // namespace kiln
