// Token shard files for pretraining: a fixed 64-byte little-endian header followed by the token ids
// as uint16 or uint32. Files are untrusted input: every problem (magic, version, width, vocab,
// header checksum, token count against the file size, an id outside the vocabulary) comes back as a
// one-line absl::Status naming the file and what was wrong. Format: docs/token_files.md.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "data/tokenizer.h"

namespace kiln::data {

inline constexpr char kTokenFileMagic[9] = "KILNTOK1";
inline constexpr uint32_t kTokenFileVersion = 1;
inline constexpr int64_t kTokenFileHeaderBytes = 64;

// The header fields a reader needs (the magic, reserved bytes and checksum are checked, not kept).
struct TokenFileHeader {
  uint32_t version = kTokenFileVersion;
  uint32_t id_bytes = 2;  // 2 (uint16 ids) or 4 (uint32 ids)
  uint32_t vocab_size = 0;
  uint64_t num_tokens = 0;
};

struct TokenFile {
  TokenFileHeader header;
  std::vector<int32_t> ids;  // widened to int32 (what Embedding / CrossEntropy take)
};

// FNV-1a 64 of the header's first 56 bytes; stored in bytes 56..63.
uint64_t TokenHeaderChecksum(const char* header56);

// The smallest width that holds every id of the vocabulary: 2 when vocab_size <= 65536, else 4.
uint32_t TokenIdBytesFor(int32_t vocab_size);

// The exact file bytes. Throws kiln::Error for vocab_size <= 0; an id outside [0, vocab_size) is
// an InvalidArgument naming `where` and the index (the ids usually come from a tokenizer, i.e.
// data, not the caller).
absl::StatusOr<std::string> SerializeTokenFile(const std::vector<int32_t>& ids, int32_t vocab_size,
                                               const std::string& where = "token file");
// Atomic: temp file + fsync + rename (base/file.h), so a kill leaves the old file or the new one.
absl::Status WriteTokenFile(const std::string& path, const std::vector<int32_t>& ids,
                            int32_t vocab_size);

// Parses file bytes already in memory (`where` names the file in errors); public for tests and
// fuzzing. ReadTokenFile reads the file and calls this.
absl::StatusOr<TokenFile> ParseTokenFile(const std::string& bytes, const std::string& where);
absl::StatusOr<TokenFile> ReadTokenFile(const std::string& path);

// Several shards read as one stream, concatenated in order. Each source is a file, a directory
// (its *.tok files, sorted by name) or a glob pattern (anything with * ? or [; matches sorted).
// Every shard must have the same vocab size. Nothing is inserted between shards: a shard that
// should not run into the next one ends with an EOS id (TokenizeTextFile does that).
struct TokenStream {
  std::vector<int32_t> ids;
  int32_t vocab_size = 0;
  std::vector<std::string> files;    // in stream order
  std::vector<int64_t> file_starts;  // offset of each file's first token in ids, then the end
};
absl::StatusOr<std::vector<std::string>> ExpandTokenFileSources(
    const std::vector<std::string>& sources);
absl::StatusOr<TokenStream> ReadTokenFiles(const std::vector<std::string>& sources);

// Tokenizes a whole text file as one stream (no splitting into documents: a document separator in
// the text stays text) and appends the tokenizer's <|eos|> when it has one, so shards made from
// separate files are separate documents for the batch loader's doc ids.
absl::StatusOr<std::vector<int32_t>> TokenizeTextFile(const Tokenizer& tokenizer,
                                                      const std::string& path);

}  // namespace kiln::data
