// File helpers: whole-file reads and crash-safe writes (temp file + fsync + rename), so a kill at
// any moment leaves either the old file or the new one, never half of one.
#pragma once

#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace kiln {

absl::StatusOr<std::string> ReadFile(const std::string& path);
absl::Status WriteFileAtomic(const std::string& path, std::string_view contents);

}  // namespace kiln
