// The client under test for the official MCP conformance suite's client
// scenarios (`conformance client --command <this binary> ...`), built on
// KEIMCPClient. The suite starts a mock server per scenario, appends its URL
// as the last argument and names the scenario in MCP_CONFORMANCE_SCENARIO;
// this program does what that scenario expects and exits 0, or prints the
// error and exits 1. OAuth scenarios (auth/*) are not implemented.
#include <cstdlib>
#include <iostream>
#include <string>

#include "absl/strings/match.h"
#include "clients/mcp/kei_mcp_client.h"

namespace {

using kei::mcp::Json;

int Fail(const std::string& step, const absl::Status& status) {
  std::cerr << "conformance_client: " << step << ": " << status << "\n";
  return 1;
}

// Lists the tools and calls `tool` (when non-empty) with `arguments`.
int ListAndCall(kei::KEIMCPClient& client, const std::string& tool, const Json& arguments) {
  auto tools = client.list_tools();
  if (!tools.ok()) return Fail("tools/list", tools.status());
  std::cout << "tools: " << tools->size() << "\n";
  if (tool.empty()) return 0;
  auto result = client.call_tool(tool, arguments);
  if (!result.ok()) return Fail("tools/call " + tool, result.status());
  std::cout << "tools/call " << tool << ": " << kei::mcp::DumpJson(*result) << "\n";
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::cerr << "usage: MCP_CONFORMANCE_SCENARIO=<name> conformance_client <server-url>\n";
    return 2;
  }
  const char* env = std::getenv("MCP_CONFORMANCE_SCENARIO");
  const std::string scenario = env != nullptr ? env : "";
  const std::string url = argv[argc - 1];
  if (absl::StartsWith(scenario, "auth/")) {
    std::cerr << "conformance_client: " << scenario
              << ": OAuth authorization flows are not implemented by KEIMCPClient\n";
    return 1;
  }

  kei::McpClientOptions options;
  options.client_name = "kei-conformance-client";
  options.timeout = absl::Seconds(15);
  options.connect_timeout = absl::Seconds(10);
  // Accept every form; KEIMCPClient fills in the schema's defaults (SEP-1034).
  options.elicitation_handler = [](const Json&) -> absl::StatusOr<Json> {
    return Json{{"action", "accept"}, {"content", Json::object()}};
  };
  auto client = kei::KEIMCPClient::Connect(url, options);
  if (!client.ok()) return Fail("initialize", client.status());
  auto info = (*client)->get_server_info();
  if (info.ok()) std::cout << "protocol version: " << info->protocol_version << "\n";

  int code;
  if (scenario == "tools_call") {
    code = ListAndCall(**client, "add_numbers", {{"a", 2}, {"b", 3}});
  } else if (scenario == "elicitation-sep1034-client-defaults") {
    code = ListAndCall(**client, "test_client_elicitation_defaults", Json::object());
  } else if (scenario == "sse-retry") {
    code = ListAndCall(**client, "test_reconnection", Json::object());
  } else {
    // "initialize" and anything unknown: the handshake plus a listing.
    code = ListAndCall(**client, "", Json::object());
  }
  (*client)->close();
  return code;
}
