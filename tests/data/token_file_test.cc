// Token shard files: exact header bytes, round trips at both widths, every bad header rejected with
// one line naming the file and the problem (magic, version, width, vocab, reserved bytes, checksum,
// truncation, extra bytes, count mismatch, id outside the vocabulary), truncation at every byte,
// multi-shard streams (lists, directories, globs) and text-to-ids.
#include "data/token_file.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>

#include "base/check.h"
#include "base/file.h"
#include "tests/testing/error_util.h"

namespace kiln::data {
namespace {

namespace fs = std::filesystem;

// A fresh, empty folder per test (tests may run in parallel processes under ctest).
std::string TmpDir(const std::string& name) {
  std::string dir = testing::TempDir() + "/kiln_tok_" + name + "_" + std::to_string(getpid());
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir;
}

std::vector<int32_t> Ids(int n, int32_t vocab) {
  std::vector<int32_t> ids;
  for (int i = 0; i < n; ++i) ids.push_back(static_cast<int32_t>((i * 7919u + 13u) % vocab));
  return ids;
}

std::string Valid(const std::vector<int32_t>& ids, int32_t vocab) {
  auto b = SerializeTokenFile(ids, vocab);
  EXPECT_TRUE(b.ok()) << b.status();
  return *b;
}

void PutU32(std::string& s, size_t at, uint32_t v) { std::memcpy(s.data() + at, &v, 4); }
void PutU64(std::string& s, size_t at, uint64_t v) { std::memcpy(s.data() + at, &v, 8); }
// After editing header fields: a valid checksum, so the test reaches the check it aims at.
void FixChecksum(std::string& s) { PutU64(s, 56, TokenHeaderChecksum(s.data())); }

// The one-line error of parsing `bytes` as file "shard.tok".
std::string ErrorFor(const std::string& bytes) {
  auto r = ParseTokenFile(bytes, "data/shard.tok");
  EXPECT_FALSE(r.ok());
  if (r.ok()) return "";
  std::string msg(r.status().message());
  EXPECT_EQ(msg.find('\n'), std::string::npos) << msg;
  EXPECT_EQ(msg.rfind("data/shard.tok: ", 0), 0u) << msg;
  return msg;
}

TEST(TokenFile, HeaderLayoutIsExact) {
  std::string b = Valid({1, 2, 261}, 262);
  ASSERT_EQ(b.size(), 64u + 3 * 2);
  EXPECT_EQ(b.substr(0, 8), "KILNTOK1");
  uint32_t u32;
  uint64_t u64;
  std::memcpy(&u32, b.data() + 8, 4);
  EXPECT_EQ(u32, 1u);  // version
  std::memcpy(&u32, b.data() + 12, 4);
  EXPECT_EQ(u32, 2u);  // width
  std::memcpy(&u32, b.data() + 16, 4);
  EXPECT_EQ(u32, 262u);  // vocab
  std::memcpy(&u64, b.data() + 24, 8);
  EXPECT_EQ(u64, 3u);  // count
  for (int i : {20, 21, 22, 23}) EXPECT_EQ(b[i], 0);
  for (int i = 32; i < 56; ++i) EXPECT_EQ(b[i], 0);
  std::memcpy(&u64, b.data() + 56, 8);
  EXPECT_EQ(u64, TokenHeaderChecksum(b.data()));
  uint16_t id;
  std::memcpy(&id, b.data() + 64 + 4, 2);
  EXPECT_EQ(id, 261);
}

TEST(TokenFile, RoundTripBothWidths) {
  std::string dir = TmpDir("roundtrip");
  for (int32_t vocab : {1, 262, 65536, 65537, 200000}) {
    std::vector<int32_t> ids = Ids(1000, vocab);
    ids.push_back(vocab - 1);
    ids.push_back(0);
    std::string path = dir + "/v" + std::to_string(vocab) + ".tok";
    ASSERT_TRUE(WriteTokenFile(path, ids, vocab).ok());
    auto f = ReadTokenFile(path);
    ASSERT_TRUE(f.ok()) << f.status();
    EXPECT_EQ(f->header.id_bytes, vocab <= 65536 ? 2u : 4u) << vocab;
    EXPECT_EQ(f->header.vocab_size, static_cast<uint32_t>(vocab));
    EXPECT_EQ(f->header.num_tokens, ids.size());
    EXPECT_EQ(f->ids, ids);
    EXPECT_EQ(fs::file_size(path), 64 + ids.size() * f->header.id_bytes);
  }
  // An empty shard is valid.
  ASSERT_TRUE(WriteTokenFile(dir + "/empty.tok", {}, 10).ok());
  auto e = ReadTokenFile(dir + "/empty.tok");
  ASSERT_TRUE(e.ok()) << e.status();
  EXPECT_TRUE(e->ids.empty());
  // No temp file is left behind by the atomic write.
  for (const auto& entry : fs::directory_iterator(dir)) {
    EXPECT_EQ(entry.path().string().find(".tmp."), std::string::npos) << entry.path();
  }
}

TEST(TokenFile, WriterRejectsIdsOutsideVocab) {
  auto r = SerializeTokenFile({1, 2, 262}, 262, "out.tok");
  ASSERT_FALSE(r.ok());
  EXPECT_HAS(std::string(r.status().message()), "out.tok: token 2 is 262, outside the vocabulary");
  r = SerializeTokenFile({-1}, 262, "out.tok");
  ASSERT_FALSE(r.ok());
  EXPECT_HAS(std::string(r.status().message()), "token 0 is -1");
  // A write that fails leaves no file.
  std::string dir = TmpDir("writer");
  EXPECT_FALSE(WriteTokenFile(dir + "/x.tok", {5}, 5).ok());
  EXPECT_FALSE(fs::exists(dir + "/x.tok"));
  EXPECT_HAS(ErrorOf([] { (void)SerializeTokenFile({}, 0); }), "vocab_size must be positive");
}

TEST(TokenFile, BadHeadersEachGiveOneLine) {
  const std::string good = Valid(Ids(10, 262), 262);
  {
    EXPECT_HAS(
        ErrorFor(good.substr(0, 10)),
        "truncated header: the file has 10 bytes, a token file starts with a 64-byte header");
    EXPECT_HAS(ErrorFor(""), "truncated header: the file has 0 bytes");
  }
  {
    std::string b = good;
    std::memcpy(b.data(), "{\"type\":", 8);  // a JSON file given by mistake
    EXPECT_HAS(ErrorFor(b), "bad magic \"{\\x22type\\x22:\" (expected \"KILNTOK1\"): not a kiln");
  }
  {
    std::string b = good;
    PutU32(b, 8, 2);
    EXPECT_HAS(ErrorFor(b), "unsupported version 2 (this build reads version 1)");
  }
  for (uint32_t w : {0u, 1u, 3u, 8u}) {
    std::string b = good;
    PutU32(b, 12, w);
    FixChecksum(b);
    EXPECT_HAS(ErrorFor(b), "bad id width " + std::to_string(w) + " bytes (expected 2 or 4)");
  }
  {
    std::string b = good;
    PutU32(b, 16, 0);
    EXPECT_HAS(ErrorFor(b), "bad vocab size 0");
    PutU32(b, 16, 0x80000000u);
    EXPECT_HAS(ErrorFor(b), "bad vocab size 2147483648");
    PutU32(b, 16, 70000);
    EXPECT_HAS(ErrorFor(b), "vocab size 70000 does not fit 2-byte ids");
  }
  for (int at : {20, 32, 55}) {
    std::string b = good;
    b[at] = 1;
    EXPECT_HAS(ErrorFor(b), "reserved header bytes are not zero");
  }
  {
    std::string b = good;
    PutU64(b, 24, 11);  // count changed, checksum not: corruption
    EXPECT_HAS(ErrorFor(b), "header checksum mismatch (stored 0x");
    b = good;
    b[60] ^= 1;
    EXPECT_HAS(ErrorFor(b), "header checksum mismatch");
  }
}

TEST(TokenFile, CountAgainstFileSize) {
  const std::string good = Valid(Ids(10, 262), 262);  // 64 + 20 bytes
  EXPECT_HAS(ErrorFor(good.substr(0, good.size() - 2)),
             "truncated: the header says 10 tokens of 2 bytes, the file has 18 bytes after the "
             "header (9 tokens)");
  EXPECT_HAS(ErrorFor(good.substr(0, good.size() - 1)), "(9 tokens + 1 bytes)");
  EXPECT_HAS(ErrorFor(good + "x"),
             "size mismatch: the header says 10 tokens of 2 bytes, the file "
             "has 21 bytes after the header (10 tokens + 1 bytes)");
  EXPECT_HAS(ErrorFor(good + "xy"), "size mismatch");
  std::string b = good;
  PutU64(b, 24, 12);
  FixChecksum(b);
  EXPECT_HAS(ErrorFor(b), "truncated: the header says 12 tokens");
  PutU64(b, 24, 3);
  FixChecksum(b);
  EXPECT_HAS(ErrorFor(b), "size mismatch: the header says 3 tokens");
  // A huge count cannot overflow the size computation.
  for (uint64_t n : {~uint64_t{0}, uint64_t{1} << 63, (~uint64_t{0}) / 2 + 1}) {
    PutU64(b, 24, n);
    FixChecksum(b);
    EXPECT_HAS(ErrorFor(b), "truncated: the header says " + std::to_string(n) + " tokens");
  }
}

TEST(TokenFile, IdOutsideVocab) {
  std::string b = Valid(Ids(10, 262), 262);
  uint16_t bad = 300;
  std::memcpy(b.data() + 64 + 2 * 3, &bad, 2);
  EXPECT_HAS(ErrorFor(b), "data/shard.tok: token 3 is 300, outside the vocabulary [0, 262)");
  std::string w = Valid(Ids(5, 100000), 100000);
  uint32_t bad32 = 0xffffffffu;
  std::memcpy(w.data() + 64 + 4 * 4, &bad32, 4);
  EXPECT_HAS(ErrorFor(w), "token 4 is 4294967295, outside the vocabulary [0, 100000)");
}

TEST(TokenFile, TruncatedAtEveryByteIsAnError) {
  const std::string good = Valid(Ids(9, 100000), 100000);
  for (size_t n = 0; n < good.size(); ++n) {
    auto r = ParseTokenFile(good.substr(0, n), "t.tok");
    EXPECT_FALSE(r.ok()) << "prefix of " << n << " bytes";
  }
  EXPECT_TRUE(ParseTokenFile(good, "t.tok").ok());
}

TEST(TokenFile, ErrorsNameTheFileOnDisk) {
  std::string dir = TmpDir("ondisk");
  std::string path = dir + "/bad.tok";
  ASSERT_TRUE(WriteFileAtomic(path, "KILNTOK2" + std::string(80, '.')).ok());
  auto r = ReadTokenFile(path);
  ASSERT_FALSE(r.ok());
  EXPECT_HAS(std::string(r.status().message()), path + ": bad magic \"KILNTOK2\"");
  r = ReadTokenFile(dir + "/missing.tok");
  ASSERT_FALSE(r.ok());
  EXPECT_HAS(std::string(r.status().message()), dir + "/missing.tok: cannot open");
}

TEST(TokenFile, ManyShardsAsOneStream) {
  std::string dir = TmpDir("many");
  std::vector<int32_t> a = {1, 2, 3}, b = {4, 5}, c = {6};
  ASSERT_TRUE(WriteTokenFile(dir + "/shard_001.tok", b, 262).ok());
  ASSERT_TRUE(WriteTokenFile(dir + "/shard_000.tok", a, 262).ok());
  ASSERT_TRUE(WriteTokenFile(dir + "/shard_002.tok", c, 262).ok());
  ASSERT_TRUE(WriteFileAtomic(dir + "/README.txt", "not a shard").ok());
  const std::vector<int32_t> all = {1, 2, 3, 4, 5, 6};

  // A directory: its *.tok files in name order.
  auto s = ReadTokenFiles({dir});
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(s->ids, all);
  EXPECT_EQ(s->vocab_size, 262);
  EXPECT_EQ(s->file_starts, (std::vector<int64_t>{0, 3, 5, 6}));
  ASSERT_EQ(s->files.size(), 3u);
  EXPECT_EQ(fs::path(s->files[1]).filename(), "shard_001.tok");

  // A glob, and an explicit list in the caller's order.
  s = ReadTokenFiles({dir + "/shard_00[0-1].tok", dir + "/shard_002.tok"});
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(s->ids, all);
  s = ReadTokenFiles({dir + "/shard_002.tok", dir + "/shard_000.tok"});
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(s->ids, (std::vector<int32_t>{6, 1, 2, 3}));

  // Errors: nothing given, a pattern matching nothing, an empty folder, a bad shard, mixed vocab.
  EXPECT_HAS(std::string(ReadTokenFiles({}).status().message()), "no sources given");
  EXPECT_HAS(std::string(ReadTokenFiles({dir + "/*.bin"}).status().message()),
             "/*.bin: pattern matches no files");
  std::string empty = TmpDir("many_empty");
  EXPECT_HAS(std::string(ReadTokenFiles({empty}).status().message()),
             empty + ": directory has no *.tok files");
  ASSERT_TRUE(WriteFileAtomic(dir + "/shard_003.tok", "short").ok());
  EXPECT_HAS(std::string(ReadTokenFiles({dir}).status().message()),
             dir + "/shard_003.tok: truncated header");
  ASSERT_TRUE(WriteTokenFile(dir + "/shard_003.tok", {7}, 300).ok());
  EXPECT_HAS(std::string(ReadTokenFiles({dir}).status().message()),
             dir + "/shard_003.tok: vocab size 300 differs from 262 in " + dir + "/shard_000.tok");
}

TEST(TokenFile, TokenizeTextFile) {
  std::string dir = TmpDir("text");
  ASSERT_TRUE(WriteFileAtomic(dir + "/a.txt", "hi\n<|eos|>x").ok());
  ByteTokenizer tok;
  auto ids = TokenizeTextFile(tok, dir + "/a.txt");
  ASSERT_TRUE(ids.ok()) << ids.status();
  // The whole file is one stream: "<|eos|>" in the text stays bytes; one EOS id is appended.
  std::vector<int32_t> want = {'h', 'i', '\n', '<', '|', 'e', 'o', 's', '|', '>', 'x', 257};
  EXPECT_EQ(*ids, want);
  ByteTokenizer no_eos(std::vector<std::string>{"<|bos|>"});
  ids = TokenizeTextFile(no_eos, dir + "/a.txt");
  ASSERT_TRUE(ids.ok());
  EXPECT_EQ(ids->size(), 11u);
  EXPECT_HAS(std::string(TokenizeTextFile(tok, dir + "/none.txt").status().message()),
             dir + "/none.txt: cannot open");
  // Text -> shard -> stream.
  ids = TokenizeTextFile(tok, dir + "/a.txt");
  ASSERT_TRUE(WriteTokenFile(dir + "/a.tok", *ids, tok.vocab_size()).ok());
  auto f = ReadTokenFile(dir + "/a.tok");
  ASSERT_TRUE(f.ok());
  EXPECT_EQ(f->ids, want);
}

}  // namespace
}  // namespace kiln::data
