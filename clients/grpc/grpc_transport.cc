#include "clients/grpc/grpc_transport.h"

#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "cc/status/grpc_mapping.h"
#include "grpcpp/client_context.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/impl/codegen/client_unary_call.h"
#include "grpcpp/impl/codegen/proto_utils.h"
#include "grpcpp/impl/codegen/rpc_method.h"
#include "grpcpp/impl/codegen/sync_stream.h"
#include "grpcpp/support/channel_arguments.h"

namespace kei {
namespace {

using google::protobuf::Message;

grpc::internal::RpcMethod::RpcType RpcTypeFor(StreamKind kind) {
  switch (kind) {
    case StreamKind::kUnary: return grpc::internal::RpcMethod::NORMAL_RPC;
    case StreamKind::kServerStreaming: return grpc::internal::RpcMethod::SERVER_STREAMING;
    case StreamKind::kClientStreaming: return grpc::internal::RpcMethod::CLIENT_STREAMING;
    case StreamKind::kBidiStreaming: return grpc::internal::RpcMethod::BIDI_STREAMING;
  }
  return grpc::internal::RpcMethod::NORMAL_RPC;
}

std::optional<absl::Duration> PushbackFrom(const grpc::ClientContext& context) {
  const auto& trailers = context.GetServerTrailingMetadata();
  auto it = trailers.find("grpc-retry-pushback-ms");
  if (it == trailers.end()) return std::nullopt;
  int64_t ms = 0;
  if (!absl::SimpleAtoi(absl::string_view(it->second.data(), it->second.size()), &ms)) {
    return absl::Milliseconds(-1);  // malformed pushback means "do not retry"
  }
  return absl::Milliseconds(ms);
}

// A call that failed UNAVAILABLE without any server metadata, on a channel
// that was not connected before the call and is still not connected after it,
// failed to connect: the request never left. A server's own UNAVAILABLE
// answer leaves the channel READY; a server that died mid-call on a channel
// that was READY counts as reached (unsure means reached).
bool ReachedServer(const grpc::ClientContext& context, grpc_connectivity_state before,
                   grpc_connectivity_state after) {
  if (!context.GetServerInitialMetadata().empty() ||
      !context.GetServerTrailingMetadata().empty()) {
    return true;
  }
  return before == GRPC_CHANNEL_READY || after == GRPC_CHANNEL_READY;
}

// Streams move raw bytes (grpc::ByteBuffer), so a caller may write a request
// it serialized itself (WriteSerialized) with no copy through a message.
class GrpcClientStream final : public ClientStream {
 public:
  using RawStream = grpc::ClientReaderWriter<grpc::ByteBuffer, grpc::ByteBuffer>;
  GrpcClientStream(std::unique_ptr<grpc::ClientContext> context, std::unique_ptr<RawStream> stream)
      : context_(std::move(context)), stream_(std::move(stream)) {}
  bool Write(const Message& message) override {
    grpc::ByteBuffer bytes;
    bool own = false;
    if (!grpc::SerializationTraits<Message>::Serialize(message, &bytes, &own).ok()) return false;
    return stream_->Write(bytes);
  }
  bool WriteSerialized(const Message&, absl::string_view bytes) override {
    grpc::Slice slice(bytes.data(), bytes.size());
    grpc::ByteBuffer buffer(&slice, 1);
    return stream_->Write(buffer);
  }
  bool CloseSend() override { return stream_->WritesDone(); }
  bool Read(Message* message) override {
    grpc::ByteBuffer bytes;
    if (!stream_->Read(&bytes)) return false;
    message->Clear();
    if (grpc::SerializationTraits<Message>::Deserialize(&bytes, message).ok()) return true;
    // What gRPC's typed streams do with a response that does not parse.
    unparsable_ = absl::InternalError(
        absl::StrCat("a ", message->GetDescriptor()->full_name(), " from the server did not parse"));
    context_->TryCancel();
    return false;
  }
  absl::Status Finish() override {
    absl::Status status = FromGrpcStatus(stream_->Finish());
    return unparsable_.ok() ? status : unparsable_;
  }
  void Cancel() override { context_->TryCancel(); }

 private:
  std::unique_ptr<grpc::ClientContext> context_;
  std::unique_ptr<RawStream> stream_;
  absl::Status unparsable_;
};

}  // namespace

absl::StatusOr<std::shared_ptr<GrpcTransport>> GrpcTransport::Create(const Endpoint& endpoint,
                                                                     ClientConfig config) {
  if (endpoint.scheme != "grpc" && endpoint.scheme != "grpcs") {
    return absl::InvalidArgumentError(
        absl::StrCat("gRPC transport needs grpc:// or grpcs://, got ", endpoint.scheme, "://"));
  }
  if (endpoint.tls) config.tls.enabled = true;
  auto credentials = MakeChannelCredentials(config.tls);
  if (!credentials.ok()) return credentials.status();
  grpc::ChannelArguments args;
  args.SetMaxReceiveMessageSize(config.max_message_bytes);
  args.SetMaxSendMessageSize(config.max_message_bytes);
  args.SetInt(GRPC_ARG_KEEPALIVE_TIME_MS,
              static_cast<int>(absl::ToInt64Milliseconds(config.keepalive_time)));
  args.SetInt(GRPC_ARG_KEEPALIVE_TIMEOUT_MS,
              static_cast<int>(absl::ToInt64Milliseconds(config.keepalive_timeout)));
  // Short reconnect backoff so a restarted server is found again quickly.
  args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 100);
  args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 2000);
  if (!config.tls.server_name_override.empty()) {
    args.SetSslTargetNameOverride(config.tls.server_name_override);
  }
  std::string target = endpoint.authority();
  auto channel = grpc::CreateCustomChannel(target, *credentials, args);
  return std::shared_ptr<GrpcTransport>(new GrpcTransport(
      absl::StrCat(endpoint.scheme, "://", target), std::move(channel), std::move(config)));
}

GrpcTransport::GrpcTransport(std::string target, std::shared_ptr<grpc::Channel> channel,
                             ClientConfig config)
    : target_(std::move(target)), channel_(std::move(channel)), config_(std::move(config)) {}

GrpcTransport::~GrpcTransport() = default;

const grpc::internal::RpcMethod& GrpcTransport::RpcMethodFor(const MethodInfo& method) {
  {
    absl::ReaderMutexLock lock(&methods_mu_);
    auto it = methods_.find(method.path);
    if (it != methods_.end()) return *it->second;
  }
  absl::MutexLock lock(&methods_mu_);
  auto& slot = methods_[method.path];
  if (!slot) {
    // The map owns the key string, whose buffer RpcMethod keeps a pointer to.
    auto it = methods_.find(method.path);
    slot = std::make_unique<grpc::internal::RpcMethod>(it->first.c_str(),
                                                       RpcTypeFor(method.kind), channel_);
  }
  return *slot;
}

absl::Status GrpcTransport::PrepareContext(grpc::ClientContext* context,
                                           const CallOptions& options) const {
  absl::Time deadline = options.EffectiveDeadline();
  if (deadline == absl::InfiniteFuture() &&
      config_.default_timeout != absl::InfiniteDuration()) {
    deadline = absl::Now() + config_.default_timeout;
  }
  if (deadline != absl::InfiniteFuture()) context->set_deadline(absl::ToChronoTime(deadline));
  // gRPC aborts the process on metadata it cannot send; check everything first.
  auto add = [context](absl::string_view key, absl::string_view value) -> absl::Status {
    if (!IsValidMetadataKey(key)) {
      return absl::InvalidArgumentError(absl::StrCat(
          "metadata key '", absl::CHexEscape(key),
          "' is not valid (lower-case letters, digits, '-', '_', '.')"));
    }
    if (!IsValidMetadataValue(key, value)) {
      return absl::InvalidArgumentError(absl::StrCat(
          "metadata value for '", key,
          "' must be printable ASCII (use a '-bin' key for binary values)"));
    }
    context->AddMetadata(std::string(key), std::string(value));
    return absl::OkStatus();
  };
  if (!config_.bearer_token.empty()) {
    if (auto s = add("authorization", absl::StrCat("Bearer ", config_.bearer_token)); !s.ok()) {
      return absl::InvalidArgumentError("bearer token must be printable ASCII");
    }
  }
  if (!config_.api_key.empty()) {
    if (auto s = add(config_.api_key_header, config_.api_key); !s.ok()) return s;
  }
  for (const auto& [key, value] : config_.metadata) {
    if (auto s = add(key, value); !s.ok()) return s;
  }
  for (const auto& [key, value] : options.metadata) {
    if (auto s = add(key, value); !s.ok()) return s;
  }
  return absl::OkStatus();
}

AttemptOutcome GrpcTransport::Unary(const MethodInfo& method, const Message& request,
                                    Message* response, const CallOptions& options) {
  grpc::ClientContext context;
  if (absl::Status s = PrepareContext(&context, options); !s.ok()) {
    return AttemptOutcome{s, /*reached_server=*/false, std::nullopt};
  }
  grpc_connectivity_state before = channel_->GetState(false);
  grpc::Status status = grpc::internal::BlockingUnaryCall<Message, Message>(
      channel_.get(), RpcMethodFor(method), &context, request, response);
  AttemptOutcome outcome;
  outcome.status = FromGrpcStatus(status);
  if (!status.ok()) {
    outcome.reached_server =
        status.error_code() != grpc::StatusCode::UNAVAILABLE ||
        ReachedServer(context, before, channel_->GetState(false));
    outcome.pushback = PushbackFrom(context);
  }
  return outcome;
}

absl::StatusOr<std::unique_ptr<ClientStream>> GrpcTransport::OpenStream(
    const MethodInfo& method, const CallOptions& options) {
  auto context = std::make_unique<grpc::ClientContext>();
  if (absl::Status s = PrepareContext(context.get(), options); !s.ok()) return s;
  // Every kind is a bidi stream on the wire; the reader-writer covers them all.
  std::unique_ptr<GrpcClientStream::RawStream> stream(
      grpc::internal::ClientReaderWriterFactory<grpc::ByteBuffer, grpc::ByteBuffer>::Create(
          channel_.get(), RpcMethodFor(method), context.get()));
  return std::unique_ptr<ClientStream>(
      new GrpcClientStream(std::move(context), std::move(stream)));
}

bool GrpcTransport::Available() const {
  return channel_->GetState(false) != GRPC_CHANNEL_TRANSIENT_FAILURE;
}

}  // namespace kei
