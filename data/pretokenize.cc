// GPT-2 pre-tokenization with PCRE2. \p{L} and \p{N} need Unicode's category tables; PCRE2
// (Debian's libpcre2-dev) keeps those current and well tested, which hand-written tables would not
// be. UTF + UCP mode makes \p{..} Unicode-aware and offsets byte offsets; JIT makes it fast.
//
// One detail: GPT-2 ran Python's `regex` module and tiktoken runs Rust's regex, where \s is
// Unicode's White_Space property. PCRE2 10.42's \s in UCP mode is slightly different (it also
// matches U+180E MONGOLIAN VOWEL SEPARATOR, a format character since Unicode 6.3). So the pattern
// spells \s out as White_Space, a list fixed since Unicode 6.3; everything else is GPT-2's text.
#include "data/pretokenize.h"

#include <memory>
#include <string>

#include "base/check.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

namespace kiln::data {
namespace {

// Unicode White_Space, without the brackets (so it can sit inside [^...] too).
constexpr const char* kWhiteSpace =
    R"(\t-\r\x{20}\x{85}\x{a0}\x{1680}\x{2000}-\x{200a}\x{2028}\x{2029}\x{202f}\x{205f}\x{3000})";

std::string Gpt2Pattern() {
  const std::string s = std::string("[") + kWhiteSpace + "]";       // \s
  const std::string not_s = std::string("[^") + kWhiteSpace + "]";  // \S
  return R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^)" + std::string(kWhiteSpace) +
         R"(\p{L}\p{N}]+|)" + s + "+(?!" + not_s + ")|" + s + "+";
}

struct CodeDeleter {
  void operator()(pcre2_code* c) const { pcre2_code_free(c); }
};
struct MatchDataDeleter {
  void operator()(pcre2_match_data* m) const { pcre2_match_data_free(m); }
};

// Compiled once, shared by all threads (pcre2_match only reads it).
const pcre2_code* Gpt2Regex() {
  static const std::unique_ptr<pcre2_code, CodeDeleter> code = [] {
    const std::string pattern = Gpt2Pattern();
    int error = 0;
    PCRE2_SIZE offset = 0;
    // MATCH_INVALID_UTF: invalid UTF-8 is allowed in the subject and simply never matches.
    pcre2_code* c =
        pcre2_compile(reinterpret_cast<PCRE2_SPTR>(pattern.data()), pattern.size(),
                      PCRE2_UTF | PCRE2_UCP | PCRE2_MATCH_INVALID_UTF, &error, &offset, nullptr);
    if (c == nullptr) {
      PCRE2_UCHAR msg[256];
      pcre2_get_error_message(error, msg, sizeof(msg));
      KILN_DCHECK(false) << "GPT-2 pattern does not compile at " << offset << ": "
                         << reinterpret_cast<const char*>(msg);
    }
    // Without JIT (a PCRE2 built without it) matching is slower but the same.
    pcre2_jit_compile(c, PCRE2_JIT_COMPLETE);
    return std::unique_ptr<pcre2_code, CodeDeleter>(c);
  }();
  return code.get();
}

}  // namespace

std::vector<std::string_view> PretokenizeGpt2(std::string_view text) {
  const pcre2_code* code = Gpt2Regex();
  std::unique_ptr<pcre2_match_data, MatchDataDeleter> md(
      pcre2_match_data_create_from_pattern(code, nullptr));
  KILN_DCHECK(md != nullptr) << "PretokenizeGpt2: out of memory";
  std::vector<std::string_view> pieces;
  const auto* subject = reinterpret_cast<PCRE2_SPTR>(text.data());
  size_t pos = 0;
  while (pos < text.size()) {
    int rc = pcre2_match(code, subject, text.size(), pos, 0, md.get(), nullptr);
    // A very long backtracking run can outgrow JIT's default stack; the interpreter keeps its
    // backtracking state on the heap and gives the same match.
    if (rc == PCRE2_ERROR_JIT_STACKLIMIT) {
      rc = pcre2_match(code, subject, text.size(), pos, PCRE2_NO_JIT, md.get(), nullptr);
    }
    if (rc == PCRE2_ERROR_NOMATCH) {  // only invalid UTF-8 is left
      pieces.push_back(text.substr(pos));
      break;
    }
    KILN_DCHECK(rc > 0) << "PretokenizeGpt2: pcre2_match failed with code " << rc;
    const PCRE2_SIZE* ov = pcre2_get_ovector_pointer(md.get());
    KILN_DCHECK(ov[0] >= pos && ov[1] > ov[0]) << "PretokenizeGpt2: empty or backward match";
    if (ov[0] > pos) pieces.push_back(text.substr(pos, ov[0] - pos));  // skipped invalid bytes
    pieces.push_back(text.substr(ov[0], ov[1] - ov[0]));
    pos = ov[1];
  }
  return pieces;
}

}  // namespace kiln::data
