// Checkpoint folders, written crash-safely. The sequence (docs/io.md has the state table):
//   1. remove leftover <dir>.tmp.<pid> folders whose process is gone;
//   2. write every file into <dir>.tmp.<pid> (each fsynced), then fsync that folder;
//   3. if <dir> exists: delete a stale <dir>.old, rename <dir> -> <dir>.old;
//   4. rename <dir>.tmp.<pid> -> <dir>, fsync the parent folder;
//   5. delete <dir>.old.
// Between 3 and 4 only <dir>.old holds a checkpoint, and LoadCheckpoint falls back to it.
#include "io/checkpoint.h"

#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <climits>
#include <cstring>
#include <filesystem>
#include <system_error>

#include "absl/strings/str_cat.h"
#include "base/file.h"
#include "io/safetensors.h"

namespace kiln::io {
namespace {

namespace fs = std::filesystem;

constexpr char kModelFile[] = "model.safetensors";
constexpr char kConfigFile[] = "config.json";
constexpr char kOptimizerFile[] = "optimizer.safetensors";
constexpr char kTrainerStateFile[] = "trainer_state.json";

// "runs/ckpt/" and "runs/ckpt" name the same folder; the suffixes must attach to the name.
std::string Normalize(std::string dir) {
  while (dir.size() > 1 && dir.back() == '/') dir.pop_back();
  return dir;
}

std::string ParentOf(const std::string& dir) {
  fs::path parent = fs::path(dir).parent_path();
  return parent.empty() ? "." : parent.string();
}

absl::Status FsError(const std::string& path, const std::string& what, const std::error_code& ec) {
  return absl::InternalError(absl::StrCat(path, ": ", what, " (", ec.message(), ")"));
}

// Makes the renames and new entries of a folder durable (a file's fsync does not cover its name).
absl::Status FsyncDir(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) {
    return absl::InternalError(
        absl::StrCat(path, ": cannot open folder to sync (", std::strerror(errno), ")"));
  }
  int rc = ::fsync(fd);
  ::close(fd);
  if (rc != 0) return absl::InternalError(absl::StrCat(path, ": fsync of folder failed"));
  return absl::OkStatus();
}

// A "<dir>.tmp.<pid>" is stale when it is ours or its process no longer exists; a live process's
// folder is left alone (it may be mid-save, although two savers of one dir are unsupported).
absl::Status RemoveStaleTemps(const std::string& dir) {
  const std::string parent = ParentOf(dir);
  const std::string prefix = fs::path(dir).filename().string() + ".tmp.";
  std::error_code ec;
  fs::directory_iterator it(parent, ec);
  if (ec) return absl::OkStatus();  // parent not there yet: nothing to clean
  for (; it != fs::directory_iterator(); it.increment(ec)) {
    if (ec) break;
    const std::string name = it->path().filename().string();
    if (name.rfind(prefix, 0) != 0) continue;
    const std::string digits = name.substr(prefix.size());
    int64_t pid = 0;
    auto [end, err] = std::from_chars(digits.data(), digits.data() + digits.size(), pid);
    if (digits.empty() || err != std::errc() || end != digits.data() + digits.size()) continue;
    bool stale = pid == getpid() || pid <= 0 || pid > INT_MAX ||
                 (::kill(static_cast<pid_t>(pid), 0) != 0 && errno == ESRCH);
    if (!stale) continue;
    std::error_code rm_ec;
    fs::remove_all(it->path(), rm_ec);
    if (rm_ec) return FsError(it->path().string(), "cannot remove stale temporary folder", rm_ec);
  }
  return absl::OkStatus();
}

absl::Status WriteAll(const std::string& tmp, const std::map<std::string, Tensor>& weights,
                      const Json& config, const std::map<std::string, Tensor>& extra_state,
                      const Json& trainer_state,
                      const std::map<std::string, std::string>& extra_files) {
  // "format": "pt" is what transformers checks in a model.safetensors' metadata.
  absl::Status s = WriteSafetensors(tmp + "/" + kModelFile, weights, {{"format", "pt"}});
  if (s.ok()) s = WriteJsonFile(tmp + "/" + kConfigFile, config);
  if (s.ok() && !extra_state.empty()) {
    s = WriteSafetensors(tmp + "/" + kOptimizerFile, extra_state);
  }
  if (s.ok() && !trainer_state.is_null()) {
    s = WriteJsonFile(tmp + "/" + kTrainerStateFile, trainer_state);
  }
  for (const auto& [name, contents] : extra_files) {
    if (!s.ok()) break;
    s = WriteFileAtomic(tmp + "/" + name, contents);
  }
  if (s.ok()) s = FsyncDir(tmp);
  return s;
}

}  // namespace

absl::Status SaveCheckpoint(const std::string& dir_in, const std::map<std::string, Tensor>& weights,
                            const Json& config, const std::map<std::string, Tensor>& extra_state,
                            const Json& trainer_state,
                            const std::map<std::string, std::string>& extra_files) {
  const std::string dir = Normalize(dir_in);
  for (const auto& [name, contents] : extra_files) {
    if (name.empty() || name == "." || name == ".." || name.find('/') != std::string::npos ||
        name == kModelFile || name == kConfigFile || name == kOptimizerFile ||
        name == kTrainerStateFile) {
      return absl::InvalidArgumentError(
          absl::StrCat("SaveCheckpoint: bad extra file name '", name, "'"));
    }
  }
  if (dir.empty() || dir == "/" || dir == "." || dir == "..") {
    return absl::InvalidArgumentError(absl::StrCat("SaveCheckpoint: bad folder name '", dir, "'"));
  }
  const std::string parent = ParentOf(dir);
  const std::string tmp = absl::StrCat(dir, ".tmp.", getpid());
  const std::string old = dir + ".old";
  std::error_code ec;

  fs::create_directories(parent, ec);
  if (ec) return FsError(parent, "cannot create folder", ec);
  if (absl::Status s = RemoveStaleTemps(dir); !s.ok()) return s;
  if (!fs::create_directory(tmp, ec)) return FsError(tmp, "cannot create folder", ec);

  if (absl::Status s = WriteAll(tmp, weights, config, extra_state, trainer_state, extra_files); !s.ok()) {
    fs::remove_all(tmp, ec);
    return s;
  }

  // A <dir>.old next to an existing <dir> is left from a save killed during its last step; <dir>
  // is complete (it only ever appears by a rename of a finished temp folder), so it can go. When
  // <dir> is missing, <dir>.old is the only checkpoint and must stay until the new one is in place.
  if (fs::exists(dir, ec)) {
    fs::remove_all(old, ec);
    if (ec) return FsError(old, "cannot remove", ec);
    fs::rename(dir, old, ec);
    if (ec) return FsError(dir, absl::StrCat("cannot rename to ", old), ec);
  }
  fs::rename(tmp, dir, ec);
  if (ec) return FsError(tmp, absl::StrCat("cannot rename to ", dir), ec);
  if (absl::Status s = FsyncDir(parent); !s.ok()) return s;
  // The new checkpoint is in place and durable; a failure to delete the old one only costs disk
  // space until the next save retries it.
  fs::remove_all(old, ec);
  return absl::OkStatus();
}

absl::StatusOr<Checkpoint> LoadCheckpoint(const std::string& dir_in) {
  const std::string dir = Normalize(dir_in);
  std::error_code ec;
  Checkpoint ckpt;
  if (fs::is_directory(dir, ec)) {
    ckpt.loaded_from = dir;
  } else if (fs::is_directory(dir + ".old", ec)) {
    ckpt.loaded_from = dir + ".old";
  } else {
    return absl::NotFoundError(
        absl::StrCat(dir, ": no checkpoint folder (neither it nor ", dir, ".old exists)"));
  }
  const std::string base = ckpt.loaded_from + "/";

  auto model = ReadSafetensors(base + kModelFile);
  if (!model.ok()) return model.status();
  ckpt.weights = std::move(model->tensors);
  auto config = ReadJsonFile(base + kConfigFile);
  if (!config.ok()) return config.status();
  ckpt.config = std::move(*config);

  if (fs::exists(base + kOptimizerFile, ec)) {
    auto opt = ReadSafetensors(base + kOptimizerFile);
    if (!opt.ok()) return opt.status();
    ckpt.extra_state = std::move(opt->tensors);
  }
  if (fs::exists(base + kTrainerStateFile, ec)) {
    auto state = ReadJsonFile(base + kTrainerStateFile);
    if (!state.ok()) return state.status();
    ckpt.trainer_state = std::move(*state);
  }
  return ckpt;
}

}  // namespace kiln::io
