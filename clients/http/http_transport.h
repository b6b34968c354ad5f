// The HTTP Transport: any method by its descriptor over the Connect protocol
// (https://connectrpc.com/docs/protocol) on HTTP/1.1, so KEIRPCClient and the
// UnifiedClient work over http:// and https:// URLs unchanged. Unary calls are
// one POST <base>/<pkg.Service>/<Method> (application/proto or
// application/json); streams send their request(s) enveloped in one POST
// (application/connect+proto|json) at CloseSend (half-duplex, as HTTP/1.1
// allows) and read the enveloped responses and the end-of-stream message as
// they arrive. The wire pieces come from cc/http/connect_wire.h; connections,
// TLS and pooling from HttpClient.
#pragma once

#include <memory>
#include <string>

#include "clients/client_config.h"
#include "clients/http/http_client.h"
#include "clients/protocol.h"
#include "clients/transport.h"

namespace kei {

struct HttpTransportOptions {
  // "proto" (binary, the default) or "json" (proto3 JSON).
  std::string codec = "proto";
  // Share one pooled client among transports; null makes one from the
  // ClientConfig (TLS, limits).
  std::shared_ptr<http::HttpClient> client;
};

class HttpTransport final : public Transport {
 public:
  // `endpoint`: http://host:port[/prefix] or https://... (TLS).
  static absl::StatusOr<std::shared_ptr<HttpTransport>> Create(const Endpoint& endpoint,
                                                               ClientConfig config,
                                                               HttpTransportOptions options = {});
  // The HttpClient options a ClientConfig stands for (TLS, limits, keepalive).
  static http::HttpClientOptions ClientOptionsFor(const ClientConfig& config);
  ~HttpTransport() override;

  Protocol protocol() const override { return Protocol::kHttp; }
  std::string target() const override { return base_url_; }
  AttemptOutcome Unary(const MethodInfo& method, const google::protobuf::Message& request,
                       google::protobuf::Message* response,
                       const CallOptions& options) override;
  absl::StatusOr<std::unique_ptr<ClientStream>> OpenStream(
      const MethodInfo& method, const CallOptions& options) override;

  const std::shared_ptr<http::HttpClient>& client() const { return client_; }
  const std::string& codec_name() const;

  class Codecs;

 private:
  HttpTransport(std::string base_url, ClientConfig config, std::string codec,
                std::shared_ptr<http::HttpClient> client);

  std::string base_url_;  // "http://host:port[/prefix]", no trailing '/'
  ClientConfig config_;
  std::string codec_;
  std::shared_ptr<http::HttpClient> client_;
};

}  // namespace kei
