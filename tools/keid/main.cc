// keid: the KEI Kit server. Runs the reference KEI agent service and the KEI
// bus (embedded broker or NATS JetStream) behind the
// kit's dispatch, serving gRPC (with health and reflection) from embedded
// defaults, a JSON config file and flags; SIGTERM drains and exits cleanly.
#include <unistd.h>

#include <csignal>
#include <cstdlib>
#include <iostream>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/cleanup/cleanup.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "bus/bus_factory.h"
#include "bus/bus_service.h"
#include "bus/bus_topics.h"
#include "bus/envelope.h"
#include "cc/mcp/stdio_transport.h"
#include "cc/server/server.h"
#include "cc/status/code_names.h"
#include "kei/agent/v1/agent.kei.h"
#include "kei/bus/v1/bus.kei.h"
#include "tools/keid/agent/agent_mcp.h"
#include "tools/keid/agent/agent_service.h"
#include "tools/keid/keid_config.h"

namespace {

int Level(const std::string& name) {
  if (name == "error") return 0;
  if (name == "warn") return 1;
  if (name == "info") return 2;
  return 3;
}

class Logger {
 public:
  explicit Logger(const std::string& level) : level_(Level(level)) {}
  void Log(int level, const std::string& message) const {
    if (level > level_) return;
    static const char* kNames[] = {"ERROR", "WARN", "INFO", "DEBUG"};
    std::cerr << absl::FormatTime("%Y-%m-%dT%H:%M:%E3SZ", absl::Now(), absl::UTCTimeZone())
              << " keid " << kNames[level] << " " << message << std::endl;
  }

 private:
  int level_;
};

int Main(int argc, char** argv) {
#ifdef NDEBUG
  // Debian builds abseil without NDEBUG, so by default every absl::Mutex
  // lock and destruction updates a process-wide deadlock graph under one
  // global lock. Optimized keid builds turn that debugging aid off; debug
  // builds (and the tests) keep it.
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
#endif
  std::vector<std::string> args(argv + 1, argv + argc);
  bool exit_now = false;
  std::string output;
  auto config = kei::keid::ParseCommandLine(args, &exit_now, &output);
  if (!config.ok()) {
    std::cerr << "keid: " << config.status().message() << "\n";
    return 2;
  }
  if (exit_now) {
    std::cout << output;
    return 0;
  }
  Logger log(config->log_level);

  // Signals are taken by a dedicated thread; block them everywhere else first.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  kei::ServerOptions& options = config->server;
  if (config->mcp_stdio) {
    // stdout belongs to the protocol; nothing else listens where a fixed
    // port could clash with another keid an MCP client spawned.
    options.http_address.clear();
    options.grpc_address = "127.0.0.1:0";
  }
  if (options.limits.max_concurrent_calls > 0) {
    log.Log(3, absl::StrCat("max concurrent calls ", options.limits.max_concurrent_calls));
  }
  // The bus outlives the server that serves it; topics travel on it too.
  auto bus = kei::bus::OpenBus(config->bus);
  if (!bus.ok()) {
    log.Log(0, absl::StrCat("bus: ", kei::StatusToString(bus.status())));
    return 1;
  }
  log.Log(2, absl::StrCat("bus: ", kei::bus::DescribeBus(config->bus)));
  options.topics = std::make_shared<kei::bus::BusTopics>(*bus);
  kei::Server server(options);
  if (auto s = server.AddService(
          kei::bus::v1::BindBus(std::make_shared<kei::bus::BusService>(*bus)));
      !s.ok()) {
    log.Log(0, kei::StatusToString(s));
    return 1;
  }
  kei::agent::AgentServiceOptions agent_options;
  agent_options.event_capacity = static_cast<size_t>(config->agent_event_capacity);
  auto agent = std::make_shared<kei::agent::AgentService>(agent_options);
  // Every agent event is also a bus message on the events topic (bus
  // subscribers, WebSocket topic frames, kei.v1.Topics/Subscribe over gRPC and
  // HTTP), carrying the AgentEvent the topic declares (agent.proto), and an
  // update of the MCP events resource. The log publishes on its own thread, a
  // batch at a time, so handlers do not wait for the bus.
  agent->mutable_events().set_publisher(
      [backend = *bus, mcp = server.mcp(),
       &log](absl::Span<const kei::agent::EventLog::EventPtr> events) {
        std::vector<std::pair<std::string, kei::bus::v1::Envelope>> batch;
        batch.reserve(events.size());
        for (const auto& event : events) {
          kei::bus::v1::Envelope envelope = kei::bus::ProtoEnvelope(*event);
          envelope.set_source("kei://keid/agent");
          envelope.set_subject(event->subject());
          batch.emplace_back(kei::agent::kEventsTopic, std::move(envelope));
        }
        for (const auto& result : backend->PublishBatch(std::move(batch))) {
          if (!result.ok()) {
            log.Log(1, absl::StrCat("events topic: ", kei::StatusToString(result.status())));
            break;
          }
        }
        mcp->NotifyResourceUpdated(kei::agent::kEventsResourceUri);
      });
  // On every way out: publish what is pending and stop the publishing thread
  // while the server and the logger it uses are still alive.
  absl::Cleanup stop_publishing = [&agent] { agent->mutable_events().set_publisher(nullptr); };
  if (auto s = kei::agent::AddAgentMcp(*server.mcp(), agent); !s.ok()) {
    log.Log(0, kei::StatusToString(s));
    return 1;
  }
  if (auto s = server.AddService(kei::agent::v1::BindAgentService(agent)); !s.ok()) {
    log.Log(0, kei::StatusToString(s));
    return 1;
  }
  if (Level(config->log_level) >= 3) {
    server.AddInterceptor(std::make_shared<kei::MetricsInterceptor>(
        [&log](const kei::MethodInfo& method, const kei::Context& context,
               const absl::Status& status, absl::Duration latency) {
          log.Log(3, absl::StrCat(context.protocol(), " ", method.full_name, " ",
                                  kei::CodeName(status.code()), " ",
                                  absl::FormatDuration(latency)));
        }));
  }
  if (auto s = server.Start(); !s.ok()) {
    log.Log(0, kei::StatusToString(s));
    return 1;
  }
  if (config->mcp_stdio) {
    log.Log(2, "serving MCP on stdin/stdout");
    // Default signal handling here: the client that spawned keid stops it
    // by closing stdin or with SIGTERM.
    pthread_sigmask(SIG_UNBLOCK, &signals, nullptr);
    kei::mcp::StdioOptions stdio_options;
    // stdio has no headers: a token from the environment authenticates the
    // calls when keid requires auth.
    if (const char* token = std::getenv("KEI_TOKEN"); token != nullptr && *token != '\0') {
      stdio_options.metadata.emplace("authorization", absl::StrCat("Bearer ", token));
    }
    absl::Status served =
        kei::mcp::StdioTransport(server.mcp(), STDIN_FILENO, STDOUT_FILENO, stdio_options).Run();
    if (!served.ok()) log.Log(0, kei::StatusToString(served));
    server.Shutdown(absl::Seconds(1));
    server.Wait();
    return served.ok() ? 0 : 1;
  }
  std::string security = options.tls.enabled()
                             ? (options.tls.require_client_cert ? "mutual TLS" : "TLS")
                             : "plaintext";
  std::string scheme = options.tls.enabled() ? "grpcs" : "grpc";
  std::vector<std::string> services;
  for (const auto* service : server.services()) services.push_back(service->full_name());
  log.Log(2, absl::StrCat("serving gRPC on ", server.grpc_target(), " (", security,
                          options.auth.enabled() ? ", auth required" : ", no auth",
                          "); services: ", absl::StrJoin(services, ", ")));
  if (!options.http_address.empty()) {
    log.Log(2, absl::StrCat("serving HTTP (Connect, REST, /healthz, /readyz",
                            options.websocket.path.empty()
                                ? std::string()
                                : absl::StrCat(", WebSocket ", options.websocket.path),
                            ") on ", server.http_target()));
  }
  std::cout << "listening " << scheme << "://" << server.grpc_target() << "\n";
  if (!options.http_address.empty()) {
    std::cout << "listening " << (options.tls.enabled() ? "https" : "http") << "://"
              << server.http_target() << "\n";
  }
  std::cout << std::flush;

  std::thread signal_thread([&] {
    int signal = 0;
    sigwait(&signals, &signal);
    log.Log(2, absl::StrCat("received ", signal == SIGTERM ? "SIGTERM" : "SIGINT",
                            ", draining for up to ",
                            absl::FormatDuration(options.shutdown_grace)));
    server.Shutdown();
  });
  server.Wait();
  signal_thread.join();
  log.Log(2, "stopped");
  return 0;
}

}  // namespace

int main(int argc, char** argv) { return Main(argc, argv); }
