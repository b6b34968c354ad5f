// A scripted stand-in for keid's stream endpoint, for client tests that must
// not depend on the real server: it accepts WebSocket upgrades on
// 127.0.0.1:0, sends `welcome`, and answers each frame with whatever the
// test's responder returns. It can drop every connection to test reconnects.
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "kei/v1/stream.pb.h"

namespace kei::testing {

class FakeStreamServer {
 public:
  // Frames to send back for one incoming frame.
  using Responder = std::function<std::vector<v1::StreamFrame>(const v1::StreamFrame&)>;

  explicit FakeStreamServer(Responder responder);
  ~FakeStreamServer();

  int port() const;
  std::string url() const;  // ws://127.0.0.1:<port>/api/v1/stream
  // Closes every open connection (abruptly, as a crash would).
  void DropConnections();
  int connections_accepted() const;
  // The Authorization header of the latest handshake.
  std::string last_authorization() const;
  // From now on, picks kei.stream.v1.proto when a client offers it and
  // welcomes it as a server from before call messages moved to `payload` did
  // (binary frames, no "payload" in the welcome). Set before connecting.
  void ActAsOlderProtoServer();

  class Impl;

 private:
  std::shared_ptr<Impl> impl_;
};

}  // namespace kei::testing
