// Red zones of the CUDA device allocator (tensor/device_memory.cc; docs/cuda.md, "Runtime"):
// each block gets guard bytes before and after the caller's bytes, filled with kRedZoneByte when
// handed out and checked when freed. This file is the host-side half, with no CUDA: the layout of
// a block and the check of guard bytes copied back from the device, so both are tested without a
// GPU (tests/tensor/red_zone_test.cc).
#pragma once

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"

namespace kiln {

inline constexpr int64_t kRedZoneBytes = 256;  // before the block, and at least this after it
inline constexpr uint8_t kRedZoneByte = 0xfd;  // the interpreter's shared-memory red-zone byte

// One block: [before guard | the caller's nbytes | after guard]. The caller's pointer is the
// block's start + kRedZoneBytes, so it keeps cudaMalloc's 256-byte alignment. Exact blocks
// (sanitizer builds, never reused) are kRedZoneBytes + nbytes + kRedZoneBytes; cached ones are
// rounded up to the allocator's size class of that, and the after guard covers the rest.
struct RedZoneLayout {
  int64_t block_bytes = 0;   // what is allocated
  int64_t user_offset = 0;   // where the caller's bytes start (= the before guard's length)
  int64_t user_bytes = 0;    // the caller's nbytes
  int64_t after_offset = 0;  // where the after guard starts (user_offset + user_bytes)
  int64_t after_bytes = 0;   // its length (>= kRedZoneBytes)
};
RedZoneLayout RedZoneLayoutFor(int64_t nbytes, bool exact);

// Fills a guard with kRedZoneByte (the device side uses cudaMemsetAsync with the same byte).
void FillRedZone(uint8_t* guard, int64_t n);

// Checks the two guards of a block, copied back to the host: `before` holds layout.user_offset
// bytes (ending where the caller's bytes start), `after` layout.after_bytes bytes (starting where
// they end). Returns "" when both are intact, else one line naming `where` (e.g. "cuda:0"), the
// block's size, the damaged side(s), the first bad byte (counted from the block's edge: the
// nearest damage), its value and how many guard bytes differ, e.g.
//   cuda:0: red zone after a block of 400 bytes damaged: first bad byte 0 bytes past its end
//   (0x00, expected 0xfd), 1 of 256 guard bytes differ
std::string CheckRedZones(const RedZoneLayout& layout, const uint8_t* before, const uint8_t* after,
                          const std::string& where);

// Whether red zones are on: KILN_CUDA_REDZONE unset or empty gives `default_on` (true in
// sanitizer builds), "1" on, "0" off; anything else is an error naming the variable.
absl::StatusOr<bool> RedZonesFromEnv(const char* value, bool default_on);

}  // namespace kiln
