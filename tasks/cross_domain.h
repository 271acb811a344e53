// The cross-domain reasoning suite (never in SFT data): multi-digit arithmetic, linear equations,
// sorting, shortest paths in small weighted graphs and boolean formulas. Each has a generator at
// difficulty levels, a verified step-by-step solver, a short answer and a scorer.
#pragma once

#include <memory>
#include <string>

#include "tasks/task.h"

namespace kiln::tasks {

// nullptr when `name` is not a cross-domain task.
std::unique_ptr<Task> MakeCrossDomainTask(const std::string& name);

}  // namespace kiln::tasks
