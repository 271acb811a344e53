// JSON and JSONL helpers over nlohmann::json (Debian's nlohmann-json3-dev: a well-kept, header-only
// parser with good error positions; writing our own would add risk, not value). Every error names
// the file, the line (JSONL) and the field.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "nlohmann/json.hpp"

namespace kiln {

using Json = nlohmann::json;

absl::StatusOr<Json> ParseJson(std::string_view text, const std::string& where);
absl::StatusOr<Json> ReadJsonFile(const std::string& path);
// Pretty-printed (indent 2), written atomically.
absl::Status WriteJsonFile(const std::string& path, const Json& value);

// One JSON value per line; blank lines are skipped; errors say "<path>:<line>: ...".
absl::StatusOr<std::vector<Json>> ReadJsonl(const std::string& path);
// Writes all records atomically (one compact JSON per line).
absl::Status WriteJsonl(const std::string& path, const std::vector<Json>& records);

// Appends records to a JSONL file (metrics logs); each line is flushed as written.
class JsonlAppender {
 public:
  static absl::StatusOr<JsonlAppender> Open(const std::string& path, bool truncate);
  absl::Status Append(const Json& record);
  JsonlAppender(JsonlAppender&&) noexcept;
  JsonlAppender& operator=(JsonlAppender&&) noexcept;
  ~JsonlAppender();

 private:
  JsonlAppender() = default;
  std::string path_;
  std::FILE* file_ = nullptr;
};

// Typed field access: GetField<int>(obj, "n_layer", "config.json") fails with
// "config.json: field 'n_layer': expected an integer, got \"x\"".
template <typename T>
absl::StatusOr<T> GetField(const Json& obj, const std::string& field, const std::string& where);
// Same, but returns `fallback` when the field is absent.
template <typename T>
absl::StatusOr<T> GetFieldOr(const Json& obj, const std::string& field, const std::string& where,
                             T fallback);

}  // namespace kiln
