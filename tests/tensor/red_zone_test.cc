// The host-side half of the CUDA allocator's red zones (tensor/red_zone.h), without a GPU: the
// block layout (alignment of the caller's pointer, exact and size-class blocks), the check of
// guards copied back, fed intact and damaged guards (each side, both, the nearest damage
// reported), and the KILN_CUDA_REDZONE setting. The device half (painting with cudaMemsetAsync,
// the check at free) runs in cuda_runtime_device_test on a GPU.
#include "tensor/red_zone.h"

#include <gtest/gtest.h>

#include <vector>

#include "tensor/device_memory.h"

namespace kiln {
namespace {

TEST(RedZone, LayoutKeepsTheCallersPointerAlignedAndGuardsBothSides) {
  for (bool exact : {true, false}) {
    for (int64_t n : {0, 1, 3, 64, 255, 256, 400, 1000, 4096, 100003, 1 << 24}) {
      SCOPED_TRACE(::testing::Message() << "nbytes " << n << (exact ? " exact" : " cached"));
      const RedZoneLayout l = RedZoneLayoutFor(n, exact);
      EXPECT_EQ(l.user_offset, kRedZoneBytes);
      EXPECT_EQ(l.user_offset % 256, 0);  // cudaMalloc's 256-byte alignment carries over
      EXPECT_EQ(l.user_bytes, n);
      EXPECT_EQ(l.after_offset, l.user_offset + n);  // the guard starts at the first byte past n
      EXPECT_GE(l.after_bytes, kRedZoneBytes);
      EXPECT_EQ(l.after_offset + l.after_bytes, l.block_bytes);
      if (exact) {
        EXPECT_EQ(l.block_bytes, n + 2 * kRedZoneBytes);
      } else {
        EXPECT_EQ(l.block_bytes, AllocationClassSize(n + 2 * kRedZoneBytes));
      }
    }
  }
}

// Guards of a block as the allocator copies them back: painted, then damaged by the test.
struct Guards {
  explicit Guards(int64_t nbytes, bool exact = true)
      : layout(RedZoneLayoutFor(nbytes, exact)),
        before(static_cast<size_t>(layout.user_offset)),
        after(static_cast<size_t>(layout.after_bytes)) {
    FillRedZone(before.data(), layout.user_offset);
    FillRedZone(after.data(), layout.after_bytes);
  }
  std::string Check() const { return CheckRedZones(layout, before.data(), after.data(), "cuda:0"); }
  RedZoneLayout layout;
  std::vector<uint8_t> before, after;
};

TEST(RedZone, IntactGuardsPass) {
  for (int64_t n : {0, 400, 5000}) {
    EXPECT_EQ(Guards(n).Check(), "");
    EXPECT_EQ(Guards(n, false).Check(), "");
  }
  std::vector<uint8_t> g(7, 0);
  FillRedZone(g.data(), 7);
  for (uint8_t b : g) EXPECT_EQ(b, kRedZoneByte);
}

TEST(RedZone, OneBytePastTheEndIsReportedWithItsOffset) {
  Guards g(400);
  g.after[0] = 0x00;  // what `y[n] = -1.0f`'s low byte writes
  EXPECT_EQ(g.Check(),
            "cuda:0: red zone after a block of 400 bytes damaged: first bad byte 0 bytes past its "
            "end (0x00, expected 0xfd), 1 of 256 guard bytes differ");
}

TEST(RedZone, AFloatWrittenBeforeTheStartNamesTheNearestByte) {
  Guards g(400);
  // -1.0f at offset -4 (little-endian 00 00 80 bf): the byte next to the block is 0xbf.
  const uint8_t minus_one[4] = {0x00, 0x00, 0x80, 0xbf};
  for (int i = 0; i < 4; ++i) g.before[g.before.size() - 4 + i] = minus_one[i];
  EXPECT_EQ(g.Check(),
            "cuda:0: red zone before a block of 400 bytes damaged: first bad byte 1 bytes before "
            "its start (0xbf, expected 0xfd), 4 of 256 guard bytes differ");
}

TEST(RedZone, FarDamageAndBothSides) {
  Guards g(1000, /*exact=*/false);  // a size-class block: the after guard is longer than 256
  ASSERT_GT(g.layout.after_bytes, kRedZoneBytes);
  g.after[g.after.size() - 1] = 0x12;  // the block's last byte
  g.after[37] = 0x34;
  g.before[0] = 0x56;  // the block's first byte
  const std::string e = g.Check();
  EXPECT_EQ(e, "cuda:0: red zone before and after a block of 1000 bytes damaged: before: first "
               "bad byte 256 bytes before its start (0x56, expected 0xfd), 1 of 256 guard bytes "
               "differ; after: first bad byte 37 bytes past its end (0x34, expected 0xfd), 2 of " +
                   std::to_string(g.layout.after_bytes) + " guard bytes differ");
}

TEST(RedZone, EnvironmentSetting) {
  EXPECT_TRUE(*RedZonesFromEnv(nullptr, true));
  EXPECT_FALSE(*RedZonesFromEnv(nullptr, false));
  EXPECT_FALSE(*RedZonesFromEnv("", false));
  EXPECT_TRUE(*RedZonesFromEnv("1", false));
  EXPECT_FALSE(*RedZonesFromEnv("0", true));
  const absl::StatusOr<bool> bad = RedZonesFromEnv("yes", false);
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().message(), "KILN_CUDA_REDZONE: expected 0 or 1, got 'yes'");
}

TEST(RedZone, HostDevicesHaveNone) {
  // cpu and cuda-sim memory is the host allocator's (exact-size under ASan: ASan's red zones).
  EXPECT_FALSE(DeviceRedZones(Device::CPU()));
  EXPECT_FALSE(DeviceRedZones(Device{Device::kCudaSim, 0}));
}

}  // namespace
}  // namespace kiln
