// Glue for commands whose run config is a JSON file that flags override and that resume from a
// checkpoint folder (`kiln train`, `kiln sft`).
#pragma once

#include <filesystem>
#include <functional>
#include <string>

#include "absl/status/statusor.h"
#include "base/json.h"

namespace kiln::tools {

// The config that flags then override: --config FILE, else (resuming) the checkpoint's config
// from `checkpoint_config(resume)`, else {}. *where names its origin for messages.
inline absl::StatusOr<Json> BaseRunConfig(
    const std::string& config_path, const std::string& resume,
    const std::function<absl::StatusOr<Json>(const std::string&)>& checkpoint_config,
    std::string* where) {
  absl::StatusOr<Json> j = Json::object();
  if (!config_path.empty()) {
    j = ReadJsonFile(config_path);
    *where = config_path;
  } else if (!resume.empty()) {
    j = checkpoint_config(resume);
    *where = resume + "/trainer_state.json";
  }
  if (j.ok() && !j->is_object()) {
    return absl::InvalidArgumentError(*where + ": expected a JSON object");
  }
  return j;
}

// A checkpoint lives at <out_dir>/checkpoint: the folder a resumed run keeps writing to.
inline std::string OutDirOfCheckpoint(const std::string& checkpoint) {
  std::filesystem::path p(checkpoint);
  if (!p.has_filename()) p = p.parent_path();
  std::string parent = p.parent_path().string();
  return parent.empty() ? "." : parent;
}

}  // namespace kiln::tools
