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

// The directory the Node.js interop peers are installed in (tests/interop,
// with its node_modules), through the real path of its package.json (Bazel
// runfiles are symlinks into the source tree); "" if not found.
std::string InteropDir();

}  // namespace kei::testing
