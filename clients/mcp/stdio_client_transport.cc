// MCP over stdio, client side (see stdio_client_transport.h).
#include "clients/mcp/stdio_client_transport.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"

namespace kei::mcp {
namespace {
// A line longer than this is not a message the client will hold in memory.
constexpr size_t kMaxLineBytes = 64 * 1024 * 1024;
}  // namespace

StdioClientTransport::~StdioClientTransport() { Close(); }

absl::Status StdioClientTransport::Start(MessageHandler on_message, ClosedHandler on_closed) {
  on_message_ = std::move(on_message);
  on_closed_ = std::move(on_closed);
  auto child = ChildProcess::Start(argv_, options_);
  if (!child.ok()) return child.status();
  child_ = *std::move(child);
  reader_ = std::thread([this] { ReadLoop(); });
  return absl::OkStatus();
}

absl::Status StdioClientTransport::Send(const Json& message, const Json&, absl::Time) {
  if (child_ == nullptr) return absl::FailedPreconditionError("the transport is not started");
  std::string line = DumpJson(message);
  line.push_back('\n');
  return child_->Write(line);
}

void StdioClientTransport::ReadLoop() {
  std::string buffer, chunk;
  bool too_long = false;
  while (child_->Read(&chunk)) {
    size_t start = 0;
    for (size_t i = 0; i < chunk.size(); ++i) {
      if (chunk[i] != '\n') continue;
      if (!too_long) {
        buffer.append(chunk, start, i - start);
        absl::string_view text = absl::StripTrailingAsciiWhitespace(buffer);
        if (!absl::StripAsciiWhitespace(text).empty()) {
          auto parsed = ParseJsonText(text);
          // Non-JSON lines (a server logging to stdout) are skipped.
          if (parsed.ok()) on_message_(*std::move(parsed));
        }
      }
      buffer.clear();
      too_long = false;
      start = i + 1;
    }
    if (!too_long) buffer.append(chunk, start, std::string::npos);
    if (buffer.size() > kMaxLineBytes) {
      buffer.clear();
      too_long = true;
    }
  }
  bool closing;
  {
    absl::MutexLock lock(&mu_);
    closing = closed_;
  }
  on_closed_(closing ? absl::CancelledError("the client closed the connection")
                     : absl::UnavailableError(absl::StrCat(
                           "the MCP server process '", argv_[0], "' closed its output")));
}

void StdioClientTransport::Close() {
  {
    absl::MutexLock lock(&mu_);
    if (closed_) return;
    closed_ = true;
  }
  if (child_ != nullptr) child_->Close(absl::Seconds(2));
  if (reader_.joinable()) reader_.join();
}

}  // namespace kei::mcp
