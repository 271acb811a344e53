// Instruction following, IFEval-like: a writing prompt with constraints a program can check (all
// capitals, exactly N words, a JSON object with a given key, no commas, ends with a phrase).
// The response is whatever follows the last </think>; the reward is the share of constraints met.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "tasks/task.h"

namespace kiln::tasks {

std::unique_ptr<Task> MakeInstructionTask();

// Which of `constraints` (the spec's "constraints" array) `text` satisfies, in order.
std::vector<bool> CheckConstraints(const Json& constraints, const std::string& text);

}  // namespace kiln::tasks
