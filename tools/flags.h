// Per-subcommand flags for the `kiln` binary: --name=value or --name value, typed, each with help.
// (Abseil flags are process-global, which makes per-subcommand --help and two subcommands with a
// flag of the same name awkward; this small parser gives each subcommand its own set.)
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "absl/status/status.h"

namespace kiln::tools {

class FlagSet {
 public:
  FlagSet(std::string command, std::string summary);

  void String(const std::string& name, std::string* target, const std::string& help);
  void Int(const std::string& name, int64_t* target, const std::string& help);
  void Double(const std::string& name, double* target, const std::string& help);
  void Bool(const std::string& name, bool* target, const std::string& help);

  // Parses args (without the program and subcommand names). Returns an error naming the flag and
  // the offending value. After a successful parse, help_requested() tells if --help was given.
  absl::Status Parse(const std::vector<std::string>& args);
  bool help_requested() const { return help_; }
  // Flags given explicitly on the command line (for config files whose fields flags override).
  bool WasSet(const std::string& name) const;
  const std::vector<std::string>& positional() const { return positional_; }
  std::string Usage() const;

 private:
  struct Flag {
    std::string name, help, type, default_text;
    std::function<absl::Status(const std::string&)> set;
    bool is_bool = false;
    bool was_set = false;
  };
  Flag* Find(const std::string& name);
  std::string command_, summary_;
  std::vector<Flag> flags_;
  std::vector<std::string> positional_;
  bool help_ = false;
};

}  // namespace kiln::tools
