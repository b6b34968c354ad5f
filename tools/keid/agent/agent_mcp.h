// What the KEI agent offers MCP clients beyond its proto-bridged tools (plan,
// act, observe, explain): its action catalogue, its recent events and its
// stored plans as resources (events notify subscribers as they happen), and a
// prompt that walks a model through planning and running a goal.
#pragma once

#include <memory>

#include "absl/status/status.h"
#include "cc/mcp/mcp_server.h"
#include "tools/keid/agent/agent_service.h"

namespace kei::agent {

// The URI of the recent-events resource; NotifyEventsChanged signals it.
inline constexpr char kEventsResourceUri[] = "kei://agent/events";

absl::Status AddAgentMcp(mcp::McpServer& server, std::shared_ptr<AgentService> agent);

}  // namespace kei::agent
