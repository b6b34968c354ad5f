// keid: the KEI Kit server. Runs the reference KEI agent service behind the
// kit's dispatch, serving gRPC (with health and reflection) from embedded
// defaults, a JSON config file and flags; SIGTERM drains and exits cleanly.
#include <csignal>
#include <iostream>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "cc/codec/json_codec.h"
#include "cc/server/server.h"
#include "cc/status/code_names.h"
#include "kei/agent/v1/agent.kei.h"
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
  if (options.limits.max_concurrent_calls > 0) {
    log.Log(3, absl::StrCat("max concurrent calls ", options.limits.max_concurrent_calls));
  }
  kei::Server server(options);
  kei::agent::AgentServiceOptions agent_options;
  agent_options.event_capacity = static_cast<size_t>(config->agent_event_capacity);
  auto agent = std::make_shared<kei::agent::AgentService>(agent_options);
  if (const auto& topics = server.topics()) {
    // Every agent event is also a message on the events topic (WebSocket
    // subscribers, kei.v1.Topics/Subscribe over gRPC and HTTP).
    agent->mutable_events().set_publisher([topics](const kei::agent::v1::AgentEvent& event) {
      std::string json;
      if (kei::JsonCodec().Marshal(event, &json).ok()) {
        (void)topics->Publish(kei::agent::kEventsTopic, std::move(json));
      }
    });
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
