// libFuzzer target for the safetensors reader (io::ParseSafetensors). Any input must come back as
// a Status or a file; a crash, a sanitizer report or an escaping exception is a bug. An accepted
// file is also serialized and parsed again, and must serialize to the same bytes the second time
// (what kiln writes, kiln reads back unchanged). scripts/fuzz.sh runs it; docs/fuzzing.md.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "io/safetensors.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string bytes(reinterpret_cast<const char*>(data), size);
  auto file = kiln::io::ParseSafetensors(bytes, "fuzz");
  if (!file.ok()) return 0;
  auto once = kiln::io::SerializeSafetensors(file->tensors, file->metadata);
  if (!once.ok()) std::abort();  // a file the reader accepts must be writable
  auto again = kiln::io::ParseSafetensors(*once, "fuzz-roundtrip");
  if (!again.ok()) std::abort();  // and what the writer wrote must read back
  auto twice = kiln::io::SerializeSafetensors(again->tensors, again->metadata);
  if (!twice.ok() || *twice != *once) std::abort();
  return 0;
}
