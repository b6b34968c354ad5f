// Percent-decoding and query-string parsing (application/x-www-form-urlencoded
// rules: '+' is a space in queries). Shared by every HTTP route.
#pragma once

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/string_view.h"

namespace kei::http {

// 0-15 for a hex digit, -1 otherwise.
int HexDigitValue(char c);

// nullopt for a malformed escape ("%zz", a trailing '%').
std::optional<std::string> PercentDecode(absl::string_view text, bool plus_is_space);

// "a=1&b=x%20y&b=2" -> {{"a","1"},{"b","x y"},{"b","2"}}; nullopt if any
// name or value is malformed.
std::optional<std::vector<std::pair<std::string, std::string>>> ParseQuery(
    absl::string_view query);

}  // namespace kei::http
