// Host-side red-zone layout and checks (tensor/red_zone.h).
#include "tensor/red_zone.h"

#include <cstring>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "tensor/device_memory.h"

namespace kiln {

RedZoneLayout RedZoneLayoutFor(int64_t nbytes, bool exact) {
  RedZoneLayout l;
  l.user_bytes = nbytes;
  l.user_offset = kRedZoneBytes;
  l.after_offset = kRedZoneBytes + nbytes;
  const int64_t minimum = l.after_offset + kRedZoneBytes;
  l.block_bytes = exact ? minimum : AllocationClassSize(minimum);
  l.after_bytes = l.block_bytes - l.after_offset;
  return l;
}

void FillRedZone(uint8_t* guard, int64_t n) {
  std::memset(guard, kRedZoneByte, static_cast<size_t>(n));
}

namespace {

// The damage of one guard: the index of the first bad byte in scan order (-1: intact), its value
// and the count of bad bytes.
struct Damage {
  int64_t first = -1;
  uint8_t value = 0;
  int64_t count = 0;
};

// Scans `n` bytes of guard; `backward` starts at the last byte (the before guard ends at the
// block: its nearest damage is its last bad byte).
Damage Scan(const uint8_t* guard, int64_t n, bool backward) {
  Damage d;
  for (int64_t i = 0; i < n; ++i) {
    const uint8_t v = guard[backward ? n - 1 - i : i];
    if (v == kRedZoneByte) continue;
    if (d.count++ == 0) {
      d.first = i;
      d.value = v;
    }
  }
  return d;
}

std::string Describe(const Damage& d, bool before, int64_t guard_bytes) {
  return absl::StrFormat(
      "first bad byte %d %s (0x%02x, expected 0x%02x), %d of %d guard bytes differ",
      before ? d.first + 1 : d.first, before ? "bytes before its start" : "bytes past its end",
      d.value, kRedZoneByte, d.count, guard_bytes);
}

}  // namespace

std::string CheckRedZones(const RedZoneLayout& layout, const uint8_t* before, const uint8_t* after,
                          const std::string& where) {
  const Damage b = Scan(before, layout.user_offset, /*backward=*/true);
  const Damage a = Scan(after, layout.after_bytes, /*backward=*/false);
  if (b.count == 0 && a.count == 0) return "";
  const char* side = b.count > 0 && a.count > 0 ? "before and after"
                     : b.count > 0               ? "before"
                                                 : "after";
  std::string msg = absl::StrCat(where, ": red zone ", side, " a block of ", layout.user_bytes,
                                 " bytes damaged: ");
  const bool both = b.count > 0 && a.count > 0;
  if (b.count > 0) {
    absl::StrAppend(&msg, both ? "before: " : "", Describe(b, true, layout.user_offset));
  }
  if (a.count > 0) {
    absl::StrAppend(&msg, both ? "; after: " : "", Describe(a, false, layout.after_bytes));
  }
  return msg;
}

absl::StatusOr<bool> RedZonesFromEnv(const char* value, bool default_on) {
  if (value == nullptr || *value == '\0') return default_on;
  if (std::strcmp(value, "1") == 0) return true;
  if (std::strcmp(value, "0") == 0) return false;
  return absl::InvalidArgumentError(
      absl::StrCat("KILN_CUDA_REDZONE: expected 0 or 1, got '", value, "'"));
}

}  // namespace kiln
