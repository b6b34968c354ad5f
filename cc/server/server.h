// kei::Server: registers services through the kit's handler registry and serves
// them over gRPC (callback API) with health checking, reflection, TLS/mTLS,
// auth, limits and graceful shutdown. Later protocol listeners (HTTP, WebSocket,
// MCP) attach to the same Dispatcher, so every protocol shares one chain.
#pragma once

#include <atomic>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "cc/dispatch/dispatcher.h"
#include "cc/dispatch/metrics_interceptor.h"
#include "cc/dispatch/service_binding.h"
#include "cc/server/server_options.h"

namespace grpc {
class Server;
class Service;
}  // namespace grpc

namespace kei {

class Server {
 public:
  explicit Server(ServerOptions options);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Before Start. The binding comes from the generated Bind<Service>().
  absl::Status AddService(ServiceBinding binding);
  // Before Start. Runs after the built-in metrics, auth and limits interceptors.
  void AddInterceptor(std::shared_ptr<Interceptor> interceptor);

  // Binds the listener and starts serving; fails with a clear message when the
  // address cannot be bound or the TLS files cannot be read.
  absl::Status Start();
  // The bound gRPC port (useful with port 0) and "host:port".
  int grpc_port() const { return grpc_port_; }
  std::string grpc_target() const;
  // The bound HTTP port and "host:port"; 0 / "" without an HTTP listener.
  int http_port() const { return http_ ? http_->port() : 0; }
  std::string http_target() const { return http_ ? http_->target() : ""; }
  // The HTTP listener, for its counters; nullptr without one.
  const http::HttpServer* http_server() const { return http_.get(); }

  // Marks the server NOT_SERVING, stops accepting calls, lets in-flight calls
  // finish for up to `grace`, then cancels the rest. Idempotent; thread-safe.
  void Shutdown(absl::Duration grace);
  void Shutdown() { Shutdown(options_.shutdown_grace); }
  // Blocks until Shutdown completes.
  void Wait();

  const ServerOptions& options() const { return options_; }
  Dispatcher& dispatcher() { return dispatcher_; }
  const MetricsInterceptor& metrics() const { return *metrics_; }
  // The topic backend (null when topics are off); usable before Start, e.g.
  // to publish a service's events.
  const std::shared_ptr<pubsub::TopicBackend>& topics() const { return topics_; }
  std::vector<const google::protobuf::ServiceDescriptor*> services() const;
  // The MCP engine: register native tools, resources and prompts here (any
  // time); Start adds a tool for every unary method.
  const std::shared_ptr<mcp::McpServer>& mcp() const { return mcp_; }

 private:
  ServerOptions options_;
  Dispatcher dispatcher_;
  std::unique_ptr<HandlerPool> handler_pool_;
  std::shared_ptr<MetricsInterceptor> metrics_;
  std::shared_ptr<pubsub::TopicBackend> topics_;
  std::shared_ptr<mcp::McpServer> mcp_;
  std::vector<ServiceBinding> bindings_;
  std::vector<std::unique_ptr<grpc::Service>> grpc_services_;
  std::unique_ptr<grpc::Server> grpc_server_;
  std::unique_ptr<http::HttpServer> http_;
  std::atomic<bool> serving_{false};
  int grpc_port_ = 0;
  absl::Mutex shutdown_mu_;
  bool shut_down_ = false;
};

}  // namespace kei
