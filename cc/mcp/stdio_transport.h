// MCP over stdio: newline-delimited JSON-RPC on a pair of file descriptors
// (keid --mcp-stdio reads stdin and writes stdout; logs stay on stderr).
// One session for the life of the stream; requests run concurrently on their
// own threads (bounded), so a long tool call does not block ping or
// notifications/cancelled; writes are serialized line by line.
#pragma once

#include <memory>

#include "absl/status/status.h"
#include "cc/dispatch/metadata.h"
#include "cc/mcp/mcp_server.h"

namespace kei::mcp {

struct StdioOptions {
  // Longer lines are answered with a parse error and skipped.
  size_t max_line_bytes = 4 * 1024 * 1024;
  // Requests running at once; more wait for a free slot.
  int max_concurrent_requests = 64;
  // Metadata every call carries (e.g. an authorization header taken from the
  // environment, so stdio calls pass the same auth interceptor).
  Metadata metadata;
};

class StdioTransport {
 public:
  StdioTransport(std::shared_ptr<McpServer> server, int in_fd, int out_fd,
                 StdioOptions options = {});
  // Serves until end of input (or a read error); waits for running requests.
  absl::Status Run();

 private:
  struct Shared;
  std::shared_ptr<McpServer> server_;
  int in_fd_;
  int out_fd_;
  StdioOptions options_;
};

}  // namespace kei::mcp
