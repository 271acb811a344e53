// Builds the one-line error text for KILN_CHECK.
#include "base/check.h"

namespace kiln::internal {

void CheckThrower::operator=(const CheckMessage& msg) const {
  std::string text = msg.str();
  if (text.empty()) text = std::string("check failed: ") + cond_;
  // Strip the directory part of the path: the message stays one short line.
  std::string file = file_;
  for (const char* top : {"/base/", "/tensor/", "/ops/", "/cpu/", "/autograd/", "/tools/",
                          "/data/", "/tasks/", "/nn/", "/io/", "/report/", "/optim/"}) {
    auto pos = file.rfind(top);
    if (pos != std::string::npos) {
      file = file.substr(pos + 1);
      break;
    }
  }
  throw Error(text + " [" + file + ":" + std::to_string(line_) + "]");
}

}  // namespace kiln::internal
