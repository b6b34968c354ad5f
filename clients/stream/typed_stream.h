// A ClientStream with its message types fixed, for callers that know the
// method's generated classes: Write takes the request type and Read fills the
// response type, over any Transport's stream (WebSocket or gRPC).
#pragma once

#include <memory>
#include <utility>

#include "absl/status/status.h"
#include "clients/transport.h"

namespace kei {

template <class Request, class Response>
class TypedStream {
 public:
  explicit TypedStream(std::unique_ptr<ClientStream> stream) : stream_(std::move(stream)) {}

  bool Write(const Request& request) { return stream_->Write(request); }
  bool CloseSend() { return stream_->CloseSend(); }
  // False at the end of the stream or on error; then Finish.
  bool Read(Response* response) { return stream_->Read(response); }
  absl::Status Finish() { return stream_->Finish(); }
  // Thread-safe.
  void Cancel() { stream_->Cancel(); }

 private:
  std::unique_ptr<ClientStream> stream_;
};

}  // namespace kei
