// Token shard files: writer, strict reader, multi-shard streams and text-to-ids.
//
// Header layout (64 bytes, every integer little-endian):
//   0  char[8]  magic "KILNTOK1"
//   8  u32      version (1)
//   12 u32      id width in bytes (2 or 4)
//   16 u32      vocab size (1 .. 2^31-1; <= 65536 when the width is 2)
//   20 u32      reserved, 0
//   24 u64      token count
//   32 u8[24]   reserved, 0
//   56 u64      FNV-1a 64 of bytes 0..55
// then token count * width bytes of ids, nothing after. 64 bytes keep the ids 64-byte aligned for
// a later memory-mapped reader.
#include "data/token_file.h"

#include <glob.h>

#include <algorithm>
#include <bit>
#include <cstring>
#include <filesystem>
#include <limits>

#include "absl/strings/str_cat.h"
#include "base/check.h"
#include "base/file.h"

namespace kiln::data {
namespace {

// The payload is copied with memcpy-sized loads; a big-endian host would need byte swaps.
static_assert(std::endian::native == std::endian::little,
              "token files assume a little-endian host");

uint32_t LoadU32(const char* p) {
  uint32_t v = 0;
  for (int i = 3; i >= 0; --i) v = (v << 8) | static_cast<unsigned char>(p[i]);
  return v;
}
uint64_t LoadU64(const char* p) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | static_cast<unsigned char>(p[i]);
  return v;
}
void StoreU32(char* p, uint32_t v) {
  for (int i = 0; i < 4; ++i) p[i] = static_cast<char>((v >> (8 * i)) & 0xff);
}
void StoreU64(char* p, uint64_t v) {
  for (int i = 0; i < 8; ++i) p[i] = static_cast<char>((v >> (8 * i)) & 0xff);
}

// Printable form of the magic bytes for the error message (a text file's first 8 bytes, say).
std::string Printable(const char* p, size_t n) {
  std::string out;
  for (size_t i = 0; i < n; ++i) {
    unsigned char c = static_cast<unsigned char>(p[i]);
    if (c >= 0x20 && c < 0x7f && c != '"' && c != '\\') {
      out += static_cast<char>(c);
    } else {
      static const char* kHex = "0123456789abcdef";
      out += "\\x";
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  return out;
}

absl::Status Bad(const std::string& where, const std::string& what) {
  return absl::InvalidArgumentError(absl::StrCat(where, ": ", what));
}

std::string Hex(uint64_t v) {
  static const char* kHex = "0123456789abcdef";
  std::string s = "0x";
  for (int i = 60; i >= 0; i -= 4) s += kHex[(v >> i) & 15];
  return s;
}

bool IsGlob(const std::string& s) { return s.find_first_of("*?[") != std::string::npos; }

}  // namespace

uint64_t TokenHeaderChecksum(const char* header56) {
  uint64_t h = 0xcbf29ce484222325ull;
  for (int i = 0; i < 56; ++i) {
    h ^= static_cast<unsigned char>(header56[i]);
    h *= 0x100000001b3ull;
  }
  return h;
}

uint32_t TokenIdBytesFor(int32_t vocab_size) { return vocab_size <= 65536 ? 2 : 4; }

absl::StatusOr<std::string> SerializeTokenFile(const std::vector<int32_t>& ids, int32_t vocab_size,
                                               const std::string& where) {
  KILN_CHECK(vocab_size > 0) << "SerializeTokenFile: vocab_size must be positive, got "
                             << vocab_size;
  const uint32_t width = TokenIdBytesFor(vocab_size);
  std::string out(kTokenFileHeaderBytes + ids.size() * width, '\0');
  std::memcpy(out.data(), kTokenFileMagic, 8);
  StoreU32(out.data() + 8, kTokenFileVersion);
  StoreU32(out.data() + 12, width);
  StoreU32(out.data() + 16, static_cast<uint32_t>(vocab_size));
  StoreU64(out.data() + 24, ids.size());
  StoreU64(out.data() + 56, TokenHeaderChecksum(out.data()));
  char* p = out.data() + kTokenFileHeaderBytes;
  for (size_t i = 0; i < ids.size(); ++i) {
    int32_t id = ids[i];
    if (id < 0 || id >= vocab_size) {
      return Bad(where, absl::StrCat("token ", i, " is ", id, ", outside the vocabulary [0, ",
                                     vocab_size, ")"));
    }
    if (width == 2) {
      uint16_t v = static_cast<uint16_t>(id);
      std::memcpy(p + 2 * i, &v, 2);
    } else {
      uint32_t v = static_cast<uint32_t>(id);
      std::memcpy(p + 4 * i, &v, 4);
    }
  }
  return out;
}

absl::Status WriteTokenFile(const std::string& path, const std::vector<int32_t>& ids,
                            int32_t vocab_size) {
  auto bytes = SerializeTokenFile(ids, vocab_size, path);
  if (!bytes.ok()) return bytes.status();
  return WriteFileAtomic(path, *bytes);
}

absl::StatusOr<TokenFile> ParseTokenFile(const std::string& bytes, const std::string& where) {
  const uint64_t size = bytes.size();
  if (size < static_cast<uint64_t>(kTokenFileHeaderBytes)) {
    return Bad(where, absl::StrCat("truncated header: the file has ", size,
                                   " bytes, a token file starts with a ", kTokenFileHeaderBytes,
                                   "-byte header"));
  }
  const char* h = bytes.data();
  if (std::memcmp(h, kTokenFileMagic, 8) != 0) {
    return Bad(where, absl::StrCat("bad magic \"", Printable(h, 8), "\" (expected \"",
                                   kTokenFileMagic, "\"): not a kiln token file"));
  }
  TokenFile f;
  f.header.version = LoadU32(h + 8);
  f.header.id_bytes = LoadU32(h + 12);
  f.header.vocab_size = LoadU32(h + 16);
  f.header.num_tokens = LoadU64(h + 24);
  if (f.header.version != kTokenFileVersion) {
    return Bad(where, absl::StrCat("unsupported version ", f.header.version,
                                   " (this build reads version ", kTokenFileVersion, ")"));
  }
  const uint32_t width = f.header.id_bytes;
  if (width != 2 && width != 4) {
    return Bad(where, absl::StrCat("bad id width ", width, " bytes (expected 2 or 4)"));
  }
  const uint32_t vocab = f.header.vocab_size;
  if (vocab == 0 || vocab > static_cast<uint32_t>(std::numeric_limits<int32_t>::max())) {
    return Bad(where, absl::StrCat("bad vocab size ", vocab, " (expected 1 .. 2147483647)"));
  }
  if (width == 2 && vocab > 65536) {
    return Bad(where, absl::StrCat("vocab size ", vocab, " does not fit 2-byte ids"));
  }
  bool reserved_zero = LoadU32(h + 20) == 0;
  for (int i = 32; i < 56; ++i) reserved_zero = reserved_zero && h[i] == 0;
  if (!reserved_zero) return Bad(where, "reserved header bytes are not zero");
  const uint64_t stored = LoadU64(h + 56), computed = TokenHeaderChecksum(h);
  if (stored != computed) {
    return Bad(where, absl::StrCat("header checksum mismatch (stored ", Hex(stored), ", computed ",
                                   Hex(computed), "): the header is corrupt"));
  }
  // Compare counts, never multiply the untrusted count first (it could overflow).
  const uint64_t payload = size - kTokenFileHeaderBytes;
  const uint64_t n = f.header.num_tokens;
  if (payload % width != 0 || payload / width != n) {
    const char* what = payload / width < n ? "truncated" : "size mismatch";
    return Bad(
        where,
        absl::StrCat(
            what, ": the header says ", n, " tokens of ", width, " bytes, the file has ", payload,
            " bytes after the header (", payload / width, " tokens",
            payload % width ? absl::StrCat(" + ", payload % width, " bytes") : std::string(), ")"));
  }
  f.ids.resize(n);
  const char* p = h + kTokenFileHeaderBytes;
  for (uint64_t i = 0; i < n; ++i) {
    uint32_t v;
    if (width == 2) {
      uint16_t v16;
      std::memcpy(&v16, p + 2 * i, 2);
      v = v16;
    } else {
      std::memcpy(&v, p + 4 * i, 4);
    }
    if (v >= vocab) {
      return Bad(where,
                 absl::StrCat("token ", i, " is ", v, ", outside the vocabulary [0, ", vocab, ")"));
    }
    f.ids[i] = static_cast<int32_t>(v);
  }
  return f;
}

absl::StatusOr<TokenFile> ReadTokenFile(const std::string& path) {
  auto bytes = ReadFile(path);
  if (!bytes.ok()) return bytes.status();
  return ParseTokenFile(*bytes, path);
}

absl::StatusOr<std::vector<std::string>> ExpandTokenFileSources(
    const std::vector<std::string>& sources) {
  namespace fs = std::filesystem;
  if (sources.empty()) return absl::InvalidArgumentError("token files: no sources given");
  std::vector<std::string> files;
  for (const auto& src : sources) {
    std::error_code ec;
    if (!IsGlob(src) && fs::is_directory(src, ec)) {
      std::vector<std::string> found;
      for (const auto& entry : fs::directory_iterator(src, ec)) {
        if (entry.path().extension() == ".tok" && entry.is_regular_file(ec)) {
          found.push_back(entry.path().string());
        }
      }
      if (ec) return absl::NotFoundError(absl::StrCat(src, ": cannot list (", ec.message(), ")"));
      if (found.empty()) {
        return absl::NotFoundError(absl::StrCat(src, ": directory has no *.tok files"));
      }
      std::sort(found.begin(), found.end());
      files.insert(files.end(), found.begin(), found.end());
    } else if (IsGlob(src)) {
      glob_t g{};
      int rc = glob(src.c_str(), 0, nullptr, &g);  // glob sorts its matches
      if (rc == 0) {
        for (size_t i = 0; i < g.gl_pathc; ++i) files.push_back(g.gl_pathv[i]);
      }
      globfree(&g);
      if (rc == GLOB_NOMATCH) {
        return absl::NotFoundError(absl::StrCat(src, ": pattern matches no files"));
      }
      if (rc != 0) return absl::NotFoundError(absl::StrCat(src, ": cannot expand pattern"));
    } else {
      files.push_back(src);
    }
  }
  return files;
}

absl::StatusOr<TokenStream> ReadTokenFiles(const std::vector<std::string>& sources) {
  auto files = ExpandTokenFileSources(sources);
  if (!files.ok()) return files.status();
  TokenStream s;
  for (const auto& path : *files) {
    auto f = ReadTokenFile(path);
    if (!f.ok()) return f.status();
    const int32_t vocab = static_cast<int32_t>(f->header.vocab_size);
    if (s.files.empty()) {
      s.vocab_size = vocab;
    } else if (vocab != s.vocab_size) {
      return Bad(path, absl::StrCat("vocab size ", vocab, " differs from ", s.vocab_size, " in ",
                                    s.files.front(), " (shards of one stream share a tokenizer)"));
    }
    s.files.push_back(path);
    s.file_starts.push_back(static_cast<int64_t>(s.ids.size()));
    s.ids.insert(s.ids.end(), f->ids.begin(), f->ids.end());
  }
  s.file_starts.push_back(static_cast<int64_t>(s.ids.size()));
  return s;
}

absl::StatusOr<std::vector<int32_t>> TokenizeTextFile(const Tokenizer& tokenizer,
                                                      const std::string& path) {
  auto text = ReadFile(path);
  if (!text.ok()) return text.status();
  std::vector<int32_t> ids = tokenizer.Encode(*text);
  if (auto eos = tokenizer.SpecialId(kEos)) ids.push_back(*eos);
  return ids;
}

}  // namespace kiln::data
