// The client under test for the official MCP conformance suite's client
// scenarios (`conformance client --command <this binary> ...`), built on
// KEIMCPClient. The suite starts a mock server per scenario, appends its URL
// as the last argument and names the scenario in MCP_CONFORMANCE_SCENARIO;
// this program does what that scenario expects and exits 0, or prints the
// error and exits 1. For the OAuth scenarios (auth/*) it enables
// KEIMCPClient's MCP authorization with the headless authorization handler
// (the mock authorization server redirects at once), the pre-registered
// client from MCP_CONFORMANCE_CONTEXT when there is one, and a Client ID
// Metadata Document URL for servers that support those.
#include <cstdlib>
#include <iostream>
#include <string>

#include "absl/strings/match.h"
#include "clients/mcp/kei_mcp_client.h"
#include "clients/mcp/oauth_client.h"

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
  const bool auth = absl::StartsWith(scenario, "auth/");

  kei::McpClientOptions options;
  options.client_name = "kei-conformance-client";
  options.timeout = absl::Seconds(15);
  options.connect_timeout = absl::Seconds(10);
  if (auth) {
    options.oauth.enabled = true;
    options.oauth.authorization_handler = kei::mcp::HeadlessAuthorizationHandler();
    options.oauth.client_metadata_url = "https://conformance-test.local/client-metadata.json";
    if (const char* context = std::getenv("MCP_CONFORMANCE_CONTEXT"); context != nullptr) {
      auto parsed = kei::mcp::ParseJsonText(context);
      if (parsed.ok() && parsed->is_object()) {
        options.oauth.client_id = parsed->value("client_id", "");
        options.oauth.client_secret = parsed->value("client_secret", "");
      }
    }
  }
  // Accept every form; KEIMCPClient fills in the schema's defaults (SEP-1034).
  options.elicitation_handler = [](const Json&) -> absl::StatusOr<Json> {
    return Json{{"action", "accept"}, {"content", Json::object()}};
  };
  auto client = kei::KEIMCPClient::Connect(url, options);
  if (!client.ok()) return Fail("initialize", client.status());
  auto info = (*client)->get_server_info();
  if (info.ok()) std::cout << "protocol version: " << info->protocol_version << "\n";

  int code;
  if (auth) {
    // The auth mock servers have one tool, "test-tool".
    code = ListAndCall(**client, "test-tool", Json::object());
  } else if (scenario == "tools_call") {
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
