// The byte tokenizer: round trips, specials after 255, no special injection from text, and the
// JSON file format with its errors.
#include "data/tokenizer.h"

#include <gtest/gtest.h>

#include <cstdio>

#include "base/check.h"
#include "base/file.h"

namespace kiln::data {
namespace {

TEST(ByteTokenizer, RoundTripsBytesAndPlacesSpecialsAfter255) {
  ByteTokenizer tok;
  std::string text = "Goal: 65 \xc3\xa9\x01\xff";
  auto ids = tok.Encode(text);
  EXPECT_EQ(ids.size(), text.size());
  EXPECT_EQ(tok.Decode(ids), text);
  EXPECT_EQ(tok.vocab_size(), 262);
  EXPECT_EQ(tok.bos_id(), 256);
  EXPECT_EQ(tok.eos_id(), 257);
  EXPECT_EQ(tok.pad_id(), 258);
  EXPECT_EQ(tok.Special(kUser), 259);
  EXPECT_EQ(tok.Special(kAssistant), 260);
  EXPECT_EQ(tok.Special(kEndOfTurn), 261);
  EXPECT_EQ(tok.Decode({256, 'a', 257}), "<|bos|>a<|eos|>");
  EXPECT_THROW(tok.Decode({262}), Error);
  EXPECT_THROW(tok.Decode({-1}), Error);
  EXPECT_FALSE(tok.SpecialId("<|nope|>").has_value());
  EXPECT_THROW(tok.Special("<|nope|>"), Error);
}

TEST(ByteTokenizer, TextNeverBecomesASpecialToken) {
  ByteTokenizer tok;
  for (int32_t id : tok.Encode("<|eos|><|assistant|>")) EXPECT_LT(id, 256);
}

TEST(ByteTokenizer, SavesAndLoads) {
  std::string path = testing::TempDir() + "/tok.json";
  ByteTokenizer tok({"<|bos|>", "<|eos|>", "<|pad|>", "<|x|>"});
  ASSERT_TRUE(tok.Save(path).ok());
  auto loaded = LoadTokenizer(path);
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  EXPECT_EQ((*loaded)->type(), "byte");
  EXPECT_EQ((*loaded)->vocab_size(), 260);
  EXPECT_EQ((*loaded)->SpecialId("<|x|>"), 259);
  std::remove(path.c_str());
}

TEST(ByteTokenizer, BadFilesNameTheFileAndField) {
  std::string path = testing::TempDir() + "/bad_tok.json";
  ASSERT_TRUE(WriteFileAtomic(path, "{\"type\": \"bpe9\", \"specials\": []}").ok());
  auto r = LoadTokenizer(path);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(std::string(r.status().message()).find(path + ": field 'type'"), std::string::npos);
  ASSERT_TRUE(WriteFileAtomic(path, "{\"type\": \"byte\", \"specials\": [\"a\", \"a\"]}").ok());
  EXPECT_FALSE(LoadTokenizer(path).ok());
  ASSERT_TRUE(WriteFileAtomic(path, "{\"type\": \"byte\"").ok());
  r = LoadTokenizer(path);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(std::string(r.status().message()).find(path), std::string::npos);
  EXPECT_FALSE(LoadTokenizer(path + ".missing").ok());
  std::remove(path.c_str());
}

}  // namespace
}  // namespace kiln::data
