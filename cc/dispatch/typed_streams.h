// Typed views of a StreamIO, as generated handler interfaces use them:
// StreamWriter for server streaming, StreamReader for client streaming,
// BidiStream for both directions.
#pragma once

#include "cc/dispatch/stream_io.h"

namespace kei {

template <class Response>
class StreamWriter {
 public:
  explicit StreamWriter(StreamIO& io) : io_(io) {}
  // False once the caller is gone; handlers should then return.
  bool Send(const Response& message) { return io_.Write(message); }
  // `bytes`: a serialized Response (StreamIO::WriteSerialized).
  bool SendSerialized(absl::string_view bytes) {
    return io_.WriteSerialized(Response::default_instance(), bytes);
  }

 private:
  StreamIO& io_;
};

template <class Request>
class StreamReader {
 public:
  explicit StreamReader(StreamIO& io) : io_(io) {}
  // False at the end of the caller's stream.
  bool Receive(Request* message) { return io_.Read(message); }

 private:
  StreamIO& io_;
};

template <class Request, class Response>
class BidiStream {
 public:
  explicit BidiStream(StreamIO& io) : io_(io) {}
  bool Receive(Request* message) { return io_.Read(message); }
  bool Send(const Response& message) { return io_.Write(message); }
  // The next Request as binary protobuf bytes (StreamIO::ReadSerialized).
  bool ReceiveSerialized(std::string* out) {
    return io_.ReadSerialized(Request::default_instance(), out);
  }
  bool SendSerialized(absl::string_view bytes) {
    return io_.WriteSerialized(Response::default_instance(), bytes);
  }

 private:
  StreamIO& io_;
};

}  // namespace kei
