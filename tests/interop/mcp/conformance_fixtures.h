// The tools, resources and prompts the official MCP conformance suite's
// server scenarios call by name (test_simple_text, test://static-text,
// test_prompt_with_arguments, ...), registered through the kit's native MCP
// API. Test-only: a server under the suite gets these on top of its
// proto-bridged tools.
#pragma once

#include "absl/status/status.h"
#include "cc/mcp/mcp_server.h"

namespace kei::testing {

absl::Status AddConformanceFixtures(mcp::McpServer& server);

}  // namespace kei::testing
