// A throw-away nats-server (Debian's /usr/sbin/nats-server) for the bus's NATS
// JetStream backend tests: started on a free local port with its JetStream
// store under TEST_TMPDIR, restartable on the same port and store (restart and
// fault tests), and stopped when the test is done.
#pragma once

#include <memory>
#include <string>
#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "tests/support/subprocess.h"

namespace kei::testing {

class NatsServer {
 public:
  // Starts the server and waits (bounded) until it accepts clients.
  // `store_dir` empty: a fresh directory under $TEST_TMPDIR (or /tmp).
  static absl::StatusOr<std::unique_ptr<NatsServer>> Start(bool jetstream = true,
                                                           std::string store_dir = "");
  ~NatsServer();
  NatsServer(const NatsServer&) = delete;
  NatsServer& operator=(const NatsServer&) = delete;

  // "nats://127.0.0.1:<port>".
  std::string url() const;
  int port() const { return port_; }
  const std::string& store_dir() const { return store_dir_; }
  // Everything the current server process printed.
  std::string Output() const;

  // SIGTERM, then SIGKILL if it has not exited within a few seconds.
  void Stop();
  // SIGKILL at once (a crash: JetStream recovers from its store on restart).
  void Kill();
  // Stops the server if it runs and starts it again on the same port and
  // store directory.
  absl::Status Restart();

 private:
  NatsServer(bool jetstream, std::string store_dir)
      : jetstream_(jetstream), store_dir_(std::move(store_dir)) {}
  // Starts the process on port_ (-1: a random port, read back from its log).
  absl::Status Launch();

  const bool jetstream_;
  const std::string store_dir_;
  int port_ = -1;
  std::unique_ptr<Process> process_;
};

}  // namespace kei::testing
