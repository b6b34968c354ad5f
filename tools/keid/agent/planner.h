// The agent's planner: turns an objective into an ordered list of steps, each
// a built-in action with ready-to-run parameters and a rationale, with a
// stable plan id; and explains a plan in plain words. Purely deterministic.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "kei/agent/v1/agent.pb.h"

namespace kei::agent {

inline constexpr int kDefaultMaxSteps = 16;
inline constexpr int kMaxMaxSteps = 64;
inline constexpr size_t kMaxObjectiveBytes = 4096;

// Splits an objective into trimmed, non-empty clauses. Separators, matched
// case-insensitively: " and then ", ", then ", " then ", ";", and " and " when
// the text after it starts with an action verb (so "add 1 and 2" and
// "echo salt and pepper" stay one clause).
std::vector<std::string> SplitClauses(absl::string_view objective);

// "plan-" + 16 hex digits of FNV-1a 64 over objective + "|" + max_steps.
std::string PlanId(absl::string_view objective, int max_steps);

// Plans `objective` with at most `max_steps` steps (0 = kDefaultMaxSteps).
// INVALID_ARGUMENT for an empty or oversized objective or max_steps outside
// 1..64. The same inputs always give the same plan.
absl::StatusOr<v1::PlanResponse> MakePlan(absl::string_view objective,
                                          int32_t max_steps);

// One paragraph about the plan plus one sentence per step.
v1::ExplainResponse ExplainPlan(const v1::PlanResponse& plan);

}  // namespace kei::agent
