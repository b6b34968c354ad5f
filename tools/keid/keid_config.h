// keid's configuration: embedded defaults, overlaid by a JSON config file
// (--config), overlaid by command-line flags. Unknown keys, wrong types and
// bad values are errors that name the key, never silently ignored.
#pragma once

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "bus/bus_factory.h"
#include "cc/server/server_options.h"

namespace kei::keid {

struct KeidConfig {
  ServerOptions server;
  // Retained agent events (Watch replays from these).
  int agent_event_capacity = 10000;
  // The bus keid serves (kei.bus.v1.Bus) and carries topics on.
  bus::BusConfig bus;
  // --mcp-stdio: serve MCP on stdin/stdout instead of the network.
  bool mcp_stdio = false;
  // "error", "warn", "info" or "debug".
  std::string log_level = "info";
};

// The defaults keid runs with when given no config at all.
extern const char kEmbeddedDefaults[];

// Applies a JSON document to `config`; keys absent from it keep their values.
absl::Status ApplyJsonConfig(absl::string_view json, KeidConfig* config);

// Parses argv. Sets *exit_now (with *output to print) for --help, --version
// and --print-config.
absl::StatusOr<KeidConfig> ParseCommandLine(const std::vector<std::string>& args,
                                            bool* exit_now, std::string* output);

// Rendering of the effective configuration (secrets redacted).
std::string ConfigToJson(const KeidConfig& config);

extern const char kUsage[];

}  // namespace kei::keid
