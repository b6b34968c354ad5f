// Runs nats-server for tests; see nats_server.h. The first start asks the
// server for a random port (-p -1) and reads it back from its log, so there is
// no window in which another process could take a port picked in advance.
#include "tests/support/nats_server.h"

#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <utility>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace kei::testing {
namespace {

// Debian installs the server in /usr/sbin; otherwise it is looked up in PATH.
constexpr const char* kBinaries[] = {"/usr/sbin/nats-server", "/usr/bin/nats-server"};
constexpr absl::Duration kStartTimeout = absl::Seconds(10);
constexpr absl::Duration kStopGrace = absl::Seconds(5);
constexpr absl::string_view kListening = "Listening for client connections on ";
constexpr absl::string_view kReady = "Server is ready";

std::string ServerBinary() {
  for (const char* path : kBinaries) {
    if (access(path, X_OK) == 0) return path;
  }
  return "nats-server";
}

std::string FreshStoreDir() {
  static std::atomic<int> counter{0};
  const char* tmp = std::getenv("TEST_TMPDIR");
  return absl::StrCat(tmp != nullptr ? tmp : "/tmp", "/nats-server-", getpid(), "-", ++counter);
}

// The port in "... Listening for client connections on 127.0.0.1:4222\n".
int ListeningPort(absl::string_view output) {
  size_t at = output.find(kListening);
  if (at == absl::string_view::npos) return -1;
  absl::string_view line = output.substr(at + kListening.size());
  line = line.substr(0, line.find('\n'));
  size_t colon = line.rfind(':');
  int port = -1;
  if (colon == absl::string_view::npos || !absl::SimpleAtoi(line.substr(colon + 1), &port)) {
    return -1;
  }
  return port;
}

}  // namespace

absl::StatusOr<std::unique_ptr<NatsServer>> NatsServer::Start(bool jetstream,
                                                               std::string store_dir) {
  if (store_dir.empty()) store_dir = FreshStoreDir();
  std::unique_ptr<NatsServer> server(new NatsServer(jetstream, std::move(store_dir)));
  if (auto s = server->Launch(); !s.ok()) return s;
  return server;
}

NatsServer::~NatsServer() { Stop(); }

std::string NatsServer::url() const { return absl::StrCat("nats://127.0.0.1:", port_); }

std::string NatsServer::Output() const { return process_ ? process_->Output() : ""; }

void NatsServer::Stop() {
  if (process_) process_->Stop(kStopGrace);
}

void NatsServer::Kill() {
  if (process_) process_->Kill();
}

absl::Status NatsServer::Restart() {
  Stop();
  return Launch();
}

absl::Status NatsServer::Launch() {
  std::vector<std::string> argv = {ServerBinary(), "-a", "127.0.0.1", "-p", absl::StrCat(port_)};
  if (jetstream_) {
    argv.insert(argv.end(), {"-js", "-sd", store_dir_});
  }
  auto process = StartProcess(argv);
  if (!process.ok()) return process.status();
  process_ = *std::move(process);
  if (!process_->WaitForOutput(kReady, kStartTimeout)) {
    process_->Kill();
    return absl::UnavailableError(
        absl::StrCat("nats-server did not become ready within ", absl::FormatDuration(kStartTimeout),
                     "; it printed:\n", process_->Output()));
  }
  int port = ListeningPort(process_->Output());
  if (port <= 0 || (port_ > 0 && port != port_)) {
    process_->Kill();
    return absl::InternalError(
        absl::StrCat("nats-server's client port not found in its log:\n", process_->Output()));
  }
  port_ = port;
  return absl::OkStatus();
}

}  // namespace kei::testing
