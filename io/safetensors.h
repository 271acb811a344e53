// safetensors reader and writer (the Hugging Face format, byte for byte): kiln's one on-disk tensor
// format, so checkpoints open in PyTorch / transformers and HF weights load here. Files are
// untrusted input: every malformed header or offset comes back as an absl::Status naming the file
// and the tensor or field, never a crash. Format and validation rules: docs/io.md.
#pragma once

#include <map>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "tensor/tensor.h"

namespace kiln::io {

struct SafetensorsFile {
  std::map<std::string, Tensor> tensors;
  std::map<std::string, std::string> metadata;  // the "__metadata__" object (str -> str)
};

// Reads the whole file once; every tensor gets its own contiguous CPU storage (a copy).
absl::StatusOr<SafetensorsFile> ReadSafetensors(const std::string& path);

// Parses a file already in memory (`where` names it in errors). ReadSafetensors calls this; it is
// public so tests and fuzzers can feed bytes without touching the disk.
absl::StatusOr<SafetensorsFile> ParseSafetensors(const std::string& bytes,
                                                 const std::string& where);

// Serializes to the exact bytes WriteSafetensors writes: header padded with spaces so the data
// section starts 8-byte aligned, tensors sorted by name and packed back to back, any strides
// (written contiguous). Errors: undefined or non-CPU tensor, a tensor named "__metadata__".
absl::StatusOr<std::string> SerializeSafetensors(
    const std::map<std::string, Tensor>& tensors,
    const std::map<std::string, std::string>& metadata = {});

// Atomic: temp file + fsync + rename (base/file.h), so a kill leaves the old file or the new one.
absl::Status WriteSafetensors(const std::string& path, const std::map<std::string, Tensor>& tensors,
                              const std::map<std::string, std::string>& metadata = {});

// The format's dtype names ("F32", "BF16", ...) and back; ParseSafetensorsDType fails on any
// other name (the format also has I8, U16, F8_E4M3, ...; kiln has no such dtypes).
const char* SafetensorsDTypeName(DType dtype);
absl::StatusOr<DType> ParseSafetensorsDType(const std::string& name);

}  // namespace kiln::io
