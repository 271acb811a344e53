// Checkpoint folders: model.safetensors + config.json (+ optimizer.safetensors +
// trainer_state.json) in one directory, laid out as Hugging Face does so a folder opens with
// transformers. Saving is crash-safe at the folder level: a kill at any moment leaves the previous
// checkpoint loadable (the exact rename sequence is in docs/io.md and checkpoint.cc).
#pragma once

#include <map>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "base/json.h"
#include "tensor/tensor.h"

namespace kiln::io {

struct Checkpoint {
  std::map<std::string, Tensor> weights;      // model.safetensors
  Json config;                                // config.json
  std::map<std::string, Tensor> extra_state;  // optimizer.safetensors; empty when absent
  Json trainer_state;                         // trainer_state.json; null when absent
  std::string loaded_from;                    // `dir`, or `dir.old` after an interrupted save
};

// Writes everything into "<dir>.tmp.<pid>", then moves it into place at `dir` (the old `dir`, if
// any, is renamed to "<dir>.old" first and deleted after). optimizer.safetensors is written when
// `extra_state` is non-empty, trainer_state.json when `trainer_state` is not null. `extra_files`
// (file name -> contents, e.g. a tokenizer) go into the same folder, so they are part of the same
// atomic swap; a name with a '/' or one of the files above is an error. Leftover
// "<dir>.tmp.<pid>" folders of processes that no longer run are removed. Not safe against two
// processes saving to the same `dir` at once.
absl::Status SaveCheckpoint(const std::string& dir, const std::map<std::string, Tensor>& weights,
                            const Json& config,
                            const std::map<std::string, Tensor>& extra_state = {},
                            const Json& trainer_state = Json(),
                            const std::map<std::string, std::string>& extra_files = {});

// Loads `dir`; when `dir` is missing but "<dir>.old" exists (a save was killed between its two
// renames), loads that. model.safetensors and config.json are required.
absl::StatusOr<Checkpoint> LoadCheckpoint(const std::string& dir);

}  // namespace kiln::io
