// `kiln version`: version and build facts (compiler, git revision), for bug reports.
#include <cstdio>

#include "eval/evaluate.h"
#include "tools/run_util.h"

namespace kiln::tools {

int RunVersion(const std::vector<std::string>& args) {
  FlagSet flags("version", "Prints kiln's version and how it was built.");
  if (int rc = ParseOrExit(flags, args); rc >= 0) return rc;
  std::printf("kiln 0.1.0 (C++%ld, %s %d.%d)\n", __cplusplus / 100 % 100, "gcc", __GNUC__,
              __GNUC_MINOR__);
  std::printf("git revision %s\n", eval::GitRevision().c_str());
  return kExitOk;
}

}  // namespace kiln::tools
