#include "cc/mcp/mcp_types.h"

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "cc/status/code_names.h"

namespace kei::mcp {
namespace {

constexpr const char* kLevelNames[] = {"debug", "info",     "notice", "warning",
                                       "error", "critical", "alert",  "emergency"};

}  // namespace

bool IsSupportedProtocolVersion(absl::string_view version) {
  for (const char* supported : kSupportedProtocolVersions) {
    if (version == supported) return true;
  }
  return false;
}

absl::string_view LogLevelName(LogLevel level) { return kLevelNames[static_cast<int>(level)]; }

std::optional<LogLevel> LogLevelFromName(absl::string_view name) {
  for (int i = 0; i < 8; ++i) {
    if (name == kLevelNames[i]) return static_cast<LogLevel>(i);
  }
  return std::nullopt;
}

ToolResult ToolResult::Text(std::string text) {
  ToolResult result;
  result.content.push_back(Json{{"type", "text"}, {"text", std::move(text)}});
  return result;
}

ToolResult ToolResult::Error(const absl::Status& status) {
  ToolResult result = Text(absl::StrCat(CodeName(status.code()), ": ", status.message()));
  result.is_error = true;
  return result;
}

Json ToolResult::ToJson() const& { return ToolResult(*this).ToJson(); }

Json ToolResult::ToJson() && {
  Json out = Json::object();
  out["content"] = std::move(content);
  if (!structured_content.is_null()) out["structuredContent"] = std::move(structured_content);
  if (is_error) out["isError"] = true;
  return out;
}

Json ResourceContents::ToJson() const {
  Json out{{"uri", uri}};
  if (!mime_type.empty()) out["mimeType"] = mime_type;
  if (binary) {
    out["blob"] = absl::Base64Escape(blob);
  } else {
    out["text"] = text;
  }
  return out;
}

std::optional<std::map<std::string, std::string>> MatchUriTemplate(absl::string_view uri_template,
                                                                   absl::string_view uri) {
  std::map<std::string, std::string> variables;
  size_t t = 0, u = 0;
  while (t < uri_template.size()) {
    char c = uri_template[t];
    if (c != '{') {
      if (u >= uri.size() || uri[u] != c) return std::nullopt;
      ++t;
      ++u;
      continue;
    }
    size_t close = uri_template.find('}', t);
    if (close == absl::string_view::npos) return std::nullopt;
    absl::string_view expression = uri_template.substr(t + 1, close - t - 1);
    bool reserved = !expression.empty() && expression[0] == '+';
    if (reserved) expression.remove_prefix(1);
    t = close + 1;
    // The variable runs to the next literal character of the template (or
    // the end); a simple expansion stops at '/' too.
    char stop = t < uri_template.size() ? uri_template[t] : '\0';
    size_t end = u;
    while (end < uri.size() && uri[end] != stop && (reserved || (uri[end] != '/' && uri[end] != '?'))) {
      ++end;
    }
    if (end == u) return std::nullopt;
    variables[std::string(expression)] = std::string(uri.substr(u, end - u));
    u = end;
  }
  if (u != uri.size()) return std::nullopt;
  return variables;
}

}  // namespace kei::mcp
