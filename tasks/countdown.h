// The number puzzles: Countdown (TinyZero's framing: 3-4 numbers in 1..100, a reachable target, an
// equation using each number once) and GeneralPoints (Chu et al.: 4 cards A..K, target 24, with
// J/Q/K = 10 for training and J/Q/K = 11/12/13 as the out-of-distribution rule).
#pragma once

#include <memory>
#include <vector>

#include "tasks/task.h"

namespace kiln::tasks {

std::unique_ptr<Task> MakeCountdown();
// face_as_ten: J/Q/K count as 10 (task "general_points"); else 11/12/13 ("general_points_ood").
std::unique_ptr<Task> MakeGeneralPoints(bool face_as_ten);

// TinyZero's reward for an equation answer over `numbers` reaching `target`: 0 without an answer
// tag; 0.1 when tagged but the numbers are not each used exactly once, other characters appear,
// it cannot be evaluated or misses; 1.0 when it evaluates to target within 1e-5 (exactly, as
// rationals). The last answer tag counts; text before the last </think> is dropped.
Score ScoreEquation(const std::string& response, const std::vector<int64_t>& numbers,
                    int64_t target);

// The TinyZero prompt, word for word.
std::string CountdownPrompt(const std::vector<int64_t>& numbers, int64_t target);

}  // namespace kiln::tasks
