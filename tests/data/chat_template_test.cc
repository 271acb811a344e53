// Golden token ids, targets and loss masks of the chat template: weight 1 on response tokens and
// the final EOS, 0 on the prompt and on padding (also when the pad id equals EOS), right
// truncation, and a clear error for a prompt that leaves no room.
#include "data/chat_template.h"

#include <gtest/gtest.h>

namespace kiln::data {
namespace {

using Ids = std::vector<int32_t>;
using Mask = std::vector<float>;

constexpr int32_t kB = 256, kE = 257, kP = 258, kU = 259, kA = 260, kT = 261;

TEST(ChatTemplate, GoldenIdsTargetsMaskPositions) {
  ByteTokenizer tok;
  auto ex = TokenizeExample(tok, "hi", "ok", {.max_len = 64});
  ASSERT_TRUE(ex.ok());
  EXPECT_EQ(ex->ids, Ids({kB, kU, 'h', 'i', kT, kA, 'o', 'k', kE}));
  EXPECT_EQ(ex->targets, Ids({kU, 'h', 'i', kT, kA, 'o', 'k', kE, kP}));
  // Position t predicts ids[t+1]: 'o' (t=5), 'k' (t=6) and EOS (t=7) carry weight.
  EXPECT_EQ(ex->loss_mask, Mask({0, 0, 0, 0, 0, 1, 1, 1, 0}));
  EXPECT_EQ(ex->positions, Ids({0, 1, 2, 3, 4, 5, 6, 7, 8}));
  EXPECT_EQ(ex->length, 9);
  EXPECT_EQ(ex->prompt_length, 6);
  EXPECT_FALSE(ex->truncated);
  EXPECT_EQ(GenerationPrompt(tok, "hi"), Ids({kB, kU, 'h', 'i', kT, kA}));
  EXPECT_EQ(RenderChat("hi", "ok"), "<|bos|><|user|>hi<|end|><|assistant|>ok<|eos|>");
  EXPECT_EQ(tok.Decode(ex->ids), RenderChat("hi", "ok"));
}

TEST(ChatTemplate, PaddingIsMaskedByPosition) {
  ByteTokenizer tok;
  auto ex = TokenizeExample(tok, "hi", "ok", {.max_len = 12, .pad_to_max = true});
  ASSERT_TRUE(ex.ok());
  EXPECT_EQ(ex->ids, Ids({kB, kU, 'h', 'i', kT, kA, 'o', 'k', kE, kP, kP, kP}));
  EXPECT_EQ(ex->loss_mask, Mask({0, 0, 0, 0, 0, 1, 1, 1, 0, 0, 0, 0}));
  EXPECT_EQ(ex->positions, Ids({0, 1, 2, 3, 4, 5, 6, 7, 8, 0, 0, 0}));
}

TEST(ChatTemplate, PadIdEqualToEosKeepsTheRealEos) {
  ByteTokenizer tok;
  auto ex = TokenizeExample(tok, "hi", "ok", {.max_len = 12, .pad_to_max = true, .pad_id = kE});
  ASSERT_TRUE(ex.ok());
  EXPECT_EQ(ex->ids, Ids({kB, kU, 'h', 'i', kT, kA, 'o', 'k', kE, kE, kE, kE}));
  EXPECT_EQ(ex->targets, Ids({kU, 'h', 'i', kT, kA, 'o', 'k', kE, kE, kE, kE, kE}));
  EXPECT_EQ(ex->loss_mask, Mask({0, 0, 0, 0, 0, 1, 1, 1, 0, 0, 0, 0}));
}

TEST(ChatTemplate, RightTruncationCutsTheResponseTail) {
  ByteTokenizer tok;
  auto ex = TokenizeExample(tok, "hi", "okay", {.max_len = 8});
  ASSERT_TRUE(ex.ok());
  EXPECT_TRUE(ex->truncated);
  EXPECT_EQ(ex->ids, Ids({kB, kU, 'h', 'i', kT, kA, 'o', 'k'}));
  // 'o' and 'k' are weighted; the last kept token has no next token in the row: no label.
  EXPECT_EQ(ex->loss_mask, Mask({0, 0, 0, 0, 0, 1, 1, 0}));
  EXPECT_EQ(ex->targets.back(), kP);
  // Exactly fitting keeps the EOS weighted.
  auto fit = TokenizeExample(tok, "hi", "ok", {.max_len = 9});
  ASSERT_TRUE(fit.ok());
  EXPECT_FALSE(fit->truncated);
  EXPECT_EQ(fit->loss_mask, Mask({0, 0, 0, 0, 0, 1, 1, 1, 0}));
}

TEST(ChatTemplate, PromptLongerThanMaxLenIsAnError) {
  ByteTokenizer tok;
  auto ex = TokenizeExample(tok, "hello", "ok", {.max_len = 9});  // prompt part is 9 tokens
  ASSERT_FALSE(ex.ok());
  EXPECT_NE(std::string(ex.status().message()).find("prompt is 9 tokens"), std::string::npos);
  EXPECT_NE(std::string(ex.status().message()).find("maximum length 9"), std::string::npos);
  EXPECT_TRUE(TokenizeExample(tok, "hello", "ok", {.max_len = 10}).ok());
}

TEST(ChatTemplate, EmptyResponseStillTrainsTheEos) {
  ByteTokenizer tok;
  auto ex = TokenizeExample(tok, "", "", {.max_len = 16});
  ASSERT_TRUE(ex.ok());
  EXPECT_EQ(ex->ids, Ids({kB, kU, kT, kA, kE}));
  EXPECT_EQ(ex->loss_mask, Mask({0, 0, 0, 1, 0}));
}

}  // namespace
}  // namespace kiln::data
