// Where a test finds files it did not build itself (binaries, protos, scripts):
// under Bazel in the runfiles tree, under CMake/ctest from an environment
// variable the CMake build sets. One lookup for both builds.
#pragma once

#include <string>

#include "absl/strings/string_view.h"

namespace kei::testing {

// `workspace_path` is relative to the repository root, e.g. "tools/keid/keid".
// Tries $TEST_SRCDIR/kei/<path> (Bazel), then $<env_var> (CMake), then
// $KEI_SOURCE_DIR/<path>. Returns "" when none exists.
std::string FindTestFile(absl::string_view workspace_path, const char* env_var);

}  // namespace kei::testing
