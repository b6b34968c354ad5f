// MCP over stdio, client side: the server is a child process (any command),
// JSON-RPC messages are single lines on its stdin and stdout, and its stderr
// is passed through or discarded. One reader thread turns stdout lines into
// messages.
#pragma once

#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "clients/mcp/child_process.h"
#include "clients/mcp/mcp_client_transport.h"

namespace kei::mcp {

class StdioClientTransport final : public McpClientTransport {
 public:
  StdioClientTransport(std::vector<std::string> argv, ChildProcessOptions options)
      : argv_(std::move(argv)), options_(std::move(options)) {}
  ~StdioClientTransport() override;

  absl::Status Start(MessageHandler on_message, ClosedHandler on_closed) override;
  absl::Status Send(const Json& message, const Json& request_id, absl::Time deadline) override;
  void Close() override;
  std::string name() const override { return "stdio"; }

 private:
  void ReadLoop();

  const std::vector<std::string> argv_;
  const ChildProcessOptions options_;
  std::unique_ptr<ChildProcess> child_;
  MessageHandler on_message_;
  ClosedHandler on_closed_;
  std::thread reader_;
  absl::Mutex mu_;
  bool closed_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace kei::mcp
