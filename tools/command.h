// The `kiln` subcommand table. Each subcommand is one function `int Run(args)` in its own
// tools/cmd_<name>.cc; each later issue adds its row to Commands() in tools/commands.cc.
#pragma once

#include <string>
#include <vector>

namespace kiln::tools {

struct Command {
  const char* name;
  const char* summary;
  int (*run)(const std::vector<std::string>& args);
};

const std::vector<Command>& Commands();

// Exit codes shared by all subcommands.
inline constexpr int kExitOk = 0;
inline constexpr int kExitError = 1;
inline constexpr int kExitUsage = 2;

}  // namespace kiln::tools
