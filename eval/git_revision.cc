// The git revision kiln was built from: eval/git_revision.cmake writes git_revision.inc into the
// build folder at every build (rewritten only when it changes).
#include "eval/evaluate.h"

namespace kiln::eval {

std::string GitRevision() {
  return
#include "git_revision.inc"
      ;
}

}  // namespace kiln::eval
