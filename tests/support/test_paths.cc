#include "tests/support/test_paths.h"

#include <climits>
#include <cstdlib>
#include <sys/stat.h>

#include "absl/strings/str_cat.h"

namespace kei::testing {
namespace {

bool Exists(const std::string& path) {
  struct stat st;
  return !path.empty() && ::stat(path.c_str(), &st) == 0;
}

}  // namespace

std::string FindTestFile(absl::string_view workspace_path, const char* env_var) {
  if (const char* srcdir = std::getenv("TEST_SRCDIR")) {
    std::string path = absl::StrCat(srcdir, "/kei/", workspace_path);
    if (Exists(path)) return path;
  }
  if (env_var != nullptr) {
    if (const char* value = std::getenv(env_var); value != nullptr && Exists(value)) {
      return value;
    }
  }
  if (const char* root = std::getenv("KEI_SOURCE_DIR")) {
    std::string path = absl::StrCat(root, "/", workspace_path);
    if (Exists(path)) return path;
  }
  return "";
}

std::string InteropDir() {
  std::string package = FindTestFile("tests/interop/package.json", "KEI_INTEROP_PACKAGE_JSON");
  char resolved[PATH_MAX];
  if (package.empty() || ::realpath(package.c_str(), resolved) == nullptr) return "";
  std::string path(resolved);
  return path.substr(0, path.rfind('/'));
}

}  // namespace kei::testing
