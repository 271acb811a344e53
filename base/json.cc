// JSON / JSONL reading and writing with errors that name file, line and field.
#include "base/json.h"

#include <cstdio>
#include <sstream>

#include "base/file.h"

namespace kiln {

namespace {
// Deeper documents are refused: nothing kiln reads nests more than a few levels, and a hostile
// file nested 300,000 levels deep would otherwise exhaust the stack (found by fuzzing).
constexpr int kMaxJsonDepth = 512;
struct JsonTooDeep {};
}  // namespace

absl::StatusOr<Json> ParseJson(std::string_view text, const std::string& where) {
  try {
    return Json::parse(
        text,
        [](int depth, Json::parse_event_t, Json&) {
          if (depth > kMaxJsonDepth) throw JsonTooDeep{};
          return true;
        },
        /*allow_exceptions=*/true);
  } catch (const JsonTooDeep&) {
    return absl::InvalidArgumentError(
        absl::StrCat(where, ": invalid JSON: nested deeper than ", kMaxJsonDepth, " levels"));
  } catch (const Json::parse_error& e) {
    std::string msg = e.what();
    auto pos = msg.find("parse error");
    return absl::InvalidArgumentError(
        absl::StrCat(where, ": invalid JSON: ", pos == std::string::npos ? msg : msg.substr(pos)));
  } catch (const Json::exception& e) {
    // e.g. out_of_range: a number too large for a double (found by fuzzing).
    return absl::InvalidArgumentError(absl::StrCat(where, ": invalid JSON: ", e.what()));
  }
}

absl::StatusOr<Json> ReadJsonFile(const std::string& path) {
  auto text = ReadFile(path);
  if (!text.ok()) return text.status();
  return ParseJson(*text, path);
}

absl::Status WriteJsonFile(const std::string& path, const Json& value) {
  return WriteFileAtomic(path, value.dump(2) + "\n");
}

absl::StatusOr<std::vector<Json>> ReadJsonl(const std::string& path) {
  auto text = ReadFile(path);
  if (!text.ok()) return text.status();
  std::vector<Json> out;
  std::istringstream in(*text);
  std::string line;
  int64_t lineno = 0;
  while (std::getline(in, line)) {
    ++lineno;
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    auto j = ParseJson(line, absl::StrCat(path, ":", lineno));
    if (!j.ok()) return j.status();
    out.push_back(std::move(*j));
  }
  return out;
}

absl::Status WriteJsonl(const std::string& path, const std::vector<Json>& records) {
  std::string text;
  for (const auto& r : records) {
    text += r.dump();
    text += '\n';
  }
  return WriteFileAtomic(path, text);
}

absl::StatusOr<JsonlAppender> JsonlAppender::Open(const std::string& path, bool truncate) {
  JsonlAppender a;
  a.path_ = path;
  a.file_ = std::fopen(path.c_str(), truncate ? "w" : "a");
  if (!a.file_) return absl::PermissionDeniedError(absl::StrCat(path, ": cannot open for writing"));
  return a;
}

absl::Status JsonlAppender::Append(const Json& record) {
  std::string line = record.dump() + "\n";
  if (std::fwrite(line.data(), 1, line.size(), file_) != line.size() || std::fflush(file_) != 0) {
    return absl::DataLossError(absl::StrCat(path_, ": write failed"));
  }
  return absl::OkStatus();
}

JsonlAppender::JsonlAppender(JsonlAppender&& o) noexcept : path_(std::move(o.path_)), file_(o.file_) {
  o.file_ = nullptr;
}
JsonlAppender& JsonlAppender::operator=(JsonlAppender&& o) noexcept {
  if (this != &o) {
    if (file_) std::fclose(file_);
    path_ = std::move(o.path_);
    file_ = o.file_;
    o.file_ = nullptr;
  }
  return *this;
}
JsonlAppender::~JsonlAppender() {
  if (file_) std::fclose(file_);
}

namespace {

template <typename T>
const char* KindName() {
  if constexpr (std::is_same_v<T, bool>) return "a boolean";
  if constexpr (std::is_integral_v<T>) return "an integer";
  if constexpr (std::is_floating_point_v<T>) return "a number";
  if constexpr (std::is_same_v<T, std::string>) return "a string";
  return "a value of another type";
}

template <typename T>
bool Convertible(const Json& v) {
  if constexpr (std::is_same_v<T, bool>) return v.is_boolean();
  if constexpr (std::is_integral_v<T>) return v.is_number_integer();
  if constexpr (std::is_floating_point_v<T>) return v.is_number();
  if constexpr (std::is_same_v<T, std::string>) return v.is_string();
  if constexpr (std::is_same_v<T, Json>) return true;
  return false;
}

}  // namespace

template <typename T>
absl::StatusOr<T> GetField(const Json& obj, const std::string& field, const std::string& where) {
  if (!obj.is_object()) return absl::InvalidArgumentError(absl::StrCat(where, ": expected a JSON object"));
  auto it = obj.find(field);
  if (it == obj.end()) {
    return absl::InvalidArgumentError(absl::StrCat(where, ": missing field '", field, "'"));
  }
  if (!Convertible<T>(*it)) {
    return absl::InvalidArgumentError(absl::StrCat(where, ": field '", field, "': expected ",
                                                   KindName<T>(), ", got ", it->dump()));
  }
  return it->template get<T>();
}

template <typename T>
absl::StatusOr<T> GetFieldOr(const Json& obj, const std::string& field, const std::string& where,
                             T fallback) {
  if (obj.is_object() && !obj.contains(field)) return fallback;
  return GetField<T>(obj, field, where);
}

#define KILN_JSON_INSTANTIATE(T)                                                           \
  template absl::StatusOr<T> GetField<T>(const Json&, const std::string&, const std::string&); \
  template absl::StatusOr<T> GetFieldOr<T>(const Json&, const std::string&, const std::string&, T);
KILN_JSON_INSTANTIATE(bool)
KILN_JSON_INSTANTIATE(int)
KILN_JSON_INSTANTIATE(int64_t)
KILN_JSON_INSTANTIATE(double)
KILN_JSON_INSTANTIATE(std::string)
KILN_JSON_INSTANTIATE(Json)
#undef KILN_JSON_INSTANTIATE

}  // namespace kiln
