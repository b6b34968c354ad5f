#include "cc/mcp/stdio_transport.h"

#include <errno.h>
#include <unistd.h>

#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "cc/status/jsonrpc_mapping.h"

namespace kei::mcp {

struct StdioTransport::Shared {
  int out_fd;
  absl::Mutex write_mu;
  absl::Mutex mu;
  int running ABSL_GUARDED_BY(mu) = 0;

  bool Write(const Json& message) {
    std::string line = DumpJson(message);
    line.push_back('\n');
    absl::MutexLock lock(&write_mu);
    const char* p = line.data();
    size_t left = line.size();
    while (left > 0) {
      ssize_t n = ::write(out_fd, p, left);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return false;
      p += n;
      left -= static_cast<size_t>(n);
    }
    return true;
  }
};

StdioTransport::StdioTransport(std::shared_ptr<McpServer> server, int in_fd, int out_fd,
                               StdioOptions options)
    : server_(std::move(server)), in_fd_(in_fd), out_fd_(out_fd), options_(std::move(options)) {}

absl::Status StdioTransport::Run() {
  auto shared = std::make_shared<Shared>();
  shared->out_fd = out_fd_;
  std::shared_ptr<Session> session = server_->CreateSession();
  session->set_outbound([shared](const Json& m) { return shared->Write(m); });
  const int max_running = std::max(1, options_.max_concurrent_requests);

  auto handle_line = [&](std::string line) {
    if (line.empty() || line == "\r") return;
    auto parsed = ParseJsonText(line);
    if (!parsed.ok()) {
      shared->Write(JsonRpcError(nullptr, kJsonRpcParseError, parsed.status().message()));
      return;
    }
    if (parsed->is_array()) {
      shared->Write(JsonRpcError(nullptr, kJsonRpcInvalidRequest,
                                 "JSON-RPC batches are not supported: send one message per line"));
      return;
    }
    JsonRpcFailure failure;
    auto message = ParseJsonRpc(*std::move(parsed), &failure);
    if (!message.ok()) {
      shared->Write(JsonRpcError(failure.id, failure.code, failure.message));
      return;
    }
    auto call = std::make_shared<Context>();
    call->set_protocol("mcp");
    call->set_peer("stdio");
    call->mutable_metadata() = options_.metadata;
    if (!message->is_request()) {
      server_->Handle(*session, *message, *call, nullptr);
      return;
    }
    {
      absl::MutexLock lock(&shared->mu);
      auto free_slot = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(shared->mu) {
        return shared->running < max_running;
      };
      shared->mu.Await(absl::Condition(&free_slot));
      ++shared->running;
    }
    std::thread([server = server_, session, shared, call,
                 message = *std::move(message)] {
      MessageSink related = [shared](const Json& m) { return shared->Write(m); };
      std::optional<Json> response = server->Handle(*session, message, *call, related);
      if (response) shared->Write(*response);
      absl::MutexLock lock(&shared->mu);
      --shared->running;
    }).detach();
  };

  std::string buffer;
  bool oversized = false;  // dropping the rest of a line that is too long
  char chunk[64 * 1024];
  absl::Status status;
  while (true) {
    ssize_t n = ::read(in_fd_, chunk, sizeof(chunk));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      status = absl::UnavailableError(absl::StrCat("reading MCP input: ", strerror(errno)));
      break;
    }
    if (n == 0) break;
    size_t start = 0;
    for (size_t i = 0; i < static_cast<size_t>(n); ++i) {
      if (chunk[i] != '\n') continue;
      if (!oversized) {
        buffer.append(chunk + start, i - start);
        handle_line(std::move(buffer));
      }
      buffer.clear();
      oversized = false;
      start = i + 1;
    }
    if (!oversized) buffer.append(chunk + start, static_cast<size_t>(n) - start);
    if (!oversized && buffer.size() > options_.max_line_bytes) {
      shared->Write(JsonRpcError(nullptr, kJsonRpcParseError,
                                 absl::StrCat("message longer than ", options_.max_line_bytes,
                                              " bytes")));
      buffer.clear();
      oversized = true;
    }
  }
  if (!oversized && !buffer.empty()) handle_line(std::move(buffer));
  // End of input: cancel what still runs and wait for it to answer.
  session->CancelAll();
  {
    absl::MutexLock lock(&shared->mu);
    auto idle = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(shared->mu) { return shared->running == 0; };
    shared->mu.AwaitWithTimeout(absl::Condition(&idle), absl::Seconds(10));
  }
  server_->CloseSession(session->id());
  return status;
}

}  // namespace kei::mcp
