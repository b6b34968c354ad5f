#include "cc/server/server.h"

#include <algorithm>
#include <chrono>
#include <thread>

#include "absl/strings/str_cat.h"
#include "cc/mcp/legacy_rest.h"
#include "cc/mcp/proto_tools.h"
#include "cc/pubsub/memory_topics.h"
#include "cc/pubsub/topics_service.h"
#include "grpcpp/ext/proto_server_reflection_plugin.h"
#include "grpcpp/health_check_service_interface.h"
#include "grpcpp/impl/codegen/service_type.h"
#include "grpcpp/server.h"
#include "grpcpp/server_builder.h"

namespace kei {

Server::Server(ServerOptions options)
    : options_(std::move(options)),
      metrics_(std::make_shared<MetricsInterceptor>()),
      mcp_(std::make_shared<mcp::McpServer>(options_.mcp)) {
  // Outermost first: metrics see every outcome, auth runs before any limit is
  // spent on an unauthenticated caller.
  dispatcher_.AddInterceptor(metrics_);
  dispatcher_.AddInterceptor(std::make_shared<AuthInterceptor>(options_.auth));
  dispatcher_.AddInterceptor(std::make_shared<LimitsInterceptor>(options_.limits));
  if (options_.enable_topics) {
    topics_ = options_.topics;
    if (topics_ == nullptr) {
      pubsub::MemoryTopicsOptions topic_options;
      topic_options.max_message_bytes = static_cast<size_t>(options_.max_message_bytes);
      topics_ = std::make_shared<pubsub::MemoryTopics>(topic_options);
    }
    // Registering the kit's own service into an empty registry cannot fail.
    (void)AddService(v1::BindTopics(std::make_shared<pubsub::TopicsService>(topics_)));
  }
}

Server::~Server() { Shutdown(absl::ZeroDuration()); }

absl::Status Server::AddService(ServiceBinding binding) {
  if (grpc_server_) return absl::FailedPreconditionError("AddService after Start");
  if (binding.descriptor == nullptr) return absl::InvalidArgumentError("binding without a service");
  for (auto& method : binding.methods) {
    if (auto s = dispatcher_.registry().Register(method); !s.ok()) return s;
  }
  bindings_.push_back(std::move(binding));
  return absl::OkStatus();
}

void Server::AddInterceptor(std::shared_ptr<Interceptor> interceptor) {
  dispatcher_.AddInterceptor(std::move(interceptor));
}

absl::Status Server::Start() {
  if (grpc_server_) return absl::FailedPreconditionError("server already started");
  auto credentials = MakeServerCredentials(options_.tls);
  if (!credentials.ok()) return credentials.status();
  if (absl::Status tools = mcp::AddProtoTools(*mcp_, dispatcher_); !tools.ok()) return tools;

  if (options_.handler_threads > 0) {
    handler_pool_ = std::make_unique<HandlerPool>(options_.handler_threads);
    dispatcher_.set_handler_pool(handler_pool_.get());
  }
  grpc::EnableDefaultHealthCheckService(true);
  if (options_.enable_reflection) grpc::reflection::InitProtoReflectionServerBuilderPlugin();

  grpc::ServerBuilder builder;
  builder.AddListeningPort(options_.grpc_address, *credentials, &grpc_port_);
  builder.SetMaxReceiveMessageSize(options_.max_message_bytes);
  builder.SetMaxSendMessageSize(options_.max_message_bytes);
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_TIME_MS,
                             static_cast<int>(absl::ToInt64Milliseconds(options_.keepalive_time)));
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_TIMEOUT_MS,
                             static_cast<int>(absl::ToInt64Milliseconds(options_.keepalive_timeout)));
  builder.AddChannelArgument(GRPC_ARG_HTTP2_MIN_RECV_PING_INTERVAL_WITHOUT_DATA_MS, 10000);
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, 1);
  // gRPC sets SO_REUSEPORT by default, which lets a second server silently
  // share a port already in use; a taken port must be an error instead.
  builder.AddChannelArgument(GRPC_ARG_ALLOW_REUSEPORT, 0);
  for (const auto& binding : bindings_) {
    grpc_services_.push_back(binding.grpc_service(dispatcher_));
    builder.RegisterService(grpc_services_.back().get());
  }
  grpc_server_ = builder.BuildAndStart();
  if (!grpc_server_ || grpc_port_ == 0) {
    grpc_server_.reset();
    return absl::UnavailableError(
        absl::StrCat("cannot listen on ", options_.grpc_address,
                     " (address in use, not local, or malformed)"));
  }
  if (!options_.http_address.empty()) {
    auto router = http::HttpRouter::Create(dispatcher_, options_.max_message_bytes,
                                           [this] { return serving_.load(); });
    if (!router.ok()) {
      Shutdown(absl::ZeroDuration());
      return router.status();
    }
    if (!options_.mcp_http.path.empty()) {
      mcp::StreamableHttpOptions mcp_options = options_.mcp_http;
      std::string host = options_.http_address.substr(0, options_.http_address.rfind(':'));
      if (host == "127.0.0.1" || host == "localhost" || host == "[::1]") {
        mcp_options.loopback_hosts_only = true;  // DNS-rebinding protection
      }
      auto endpoint = std::make_shared<mcp::StreamableHttp>(mcp_, dispatcher_, mcp_options);
      (*router)->Mount(options_.mcp_http.path, false,
                       [endpoint](http::HttpRequest request) {
                         return endpoint->Handle(std::move(request));
                       });
      // The original KEI MCP client's REST tool API, from the same registry.
      auto legacy = std::make_shared<mcp::LegacyRest>(mcp_, dispatcher_);
      (*router)->Mount(mcp::kLegacyRestPrefix, true, [legacy](http::HttpRequest request) {
        return legacy->Handle(std::move(request));
      });
    }
    http::HttpServerOptions http_options = options_.http;
    http_options.address = options_.http_address;
    http_options.tls = options_.tls;
    http_options.max_body_bytes = static_cast<size_t>(options_.max_message_bytes);
    http_ = std::make_unique<http::HttpServer>(http_options, *std::move(router));
    if (!options_.websocket.path.empty()) {
      websocket::WsEndpoint endpoint;
      endpoint.dispatcher = &dispatcher_;
      endpoint.topics = topics_;
      endpoint.options = options_.websocket;
      endpoint.options.max_message_bytes =
          std::min(endpoint.options.max_message_bytes,
                   static_cast<size_t>(options_.max_message_bytes));
      http_->EnableWebSocket(std::move(endpoint));
    }
    if (auto s = http_->Start(); !s.ok()) {
      http_.reset();
      Shutdown(absl::ZeroDuration());
      return s;
    }
  }
  serving_ = true;
  auto* health = grpc_server_->GetHealthCheckService();
  health->SetServingStatus(true);
  for (const auto& binding : bindings_) {
    health->SetServingStatus(binding.descriptor->full_name(), true);
  }
  return absl::OkStatus();
}

std::string Server::grpc_target() const {
  std::string host = options_.grpc_address.substr(0, options_.grpc_address.rfind(':'));
  if (host.empty() || host == "0.0.0.0") host = "127.0.0.1";
  if (host == "[::]") host = "[::1]";
  return absl::StrCat(host, ":", grpc_port_);
}

void Server::Shutdown(absl::Duration grace) {
  {
    absl::MutexLock lock(&shutdown_mu_);
    if (shut_down_ || !grpc_server_) return;
    shut_down_ = true;
  }
  serving_ = false;
  grpc_server_->GetHealthCheckService()->SetServingStatus(false);
  absl::Time deadline = absl::Now() + grace;
  // Both listeners drain at once: HTTP on a helper thread, gRPC here.
  std::thread http_drain;
  if (http_) http_drain = std::thread([this, deadline] { http_->Shutdown(deadline - absl::Now()); });
  grpc_server_->Shutdown(absl::ToChronoTime(deadline));
  if (http_drain.joinable()) http_drain.join();
}

void Server::Wait() {
  if (grpc_server_) grpc_server_->Wait();
}

std::vector<const google::protobuf::ServiceDescriptor*> Server::services() const {
  std::vector<const google::protobuf::ServiceDescriptor*> out;
  for (const auto& b : bindings_) out.push_back(b.descriptor);
  return out;
}

}  // namespace kei
