// `kiln`: one binary, one subcommand per job. Every failure becomes one line on stderr and a
// non-zero exit: kiln::Error (a caller's mistake found by a check), absl::Status errors from
// parsers, and anything else thrown.
#include <cstdio>
#include <exception>
#include <string>
#include <vector>

#include "base/check.h"
#include "tools/command.h"

namespace {

void PrintUsage() {
  std::printf("usage: kiln <command> [flags]   (kiln <command> --help for its flags)\n\ncommands:\n");
  for (const auto& c : kiln::tools::Commands()) std::printf("  %-10s %s\n", c.name, c.summary);
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  if (args.empty() || args[0] == "--help" || args[0] == "-h" || args[0] == "help") {
    PrintUsage();
    return args.empty() ? kiln::tools::kExitUsage : kiln::tools::kExitOk;
  }
  for (const auto& c : kiln::tools::Commands()) {
    if (args[0] != c.name) continue;
    try {
      return c.run(std::vector<std::string>(args.begin() + 1, args.end()));
    } catch (const kiln::Error& e) {
      std::fprintf(stderr, "kiln %s: error: %s\n", c.name, e.what());
    } catch (const std::exception& e) {
      std::fprintf(stderr, "kiln %s: error: %s\n", c.name, e.what());
    }
    return kiln::tools::kExitError;
  }
  std::fprintf(stderr, "kiln: unknown command '%s' (see kiln --help)\n", args[0].c_str());
  return kiln::tools::kExitUsage;
}
