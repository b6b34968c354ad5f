#include "clients/unified_client.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "clients/json_call.h"
#include "clients/unary_invoker.h"

namespace kei {

absl::StatusOr<std::shared_ptr<UnifiedClient>> UnifiedClient::Create(
    UnifiedClientOptions options, const ProtocolClientFactory& factory) {
  if (options.endpoints.empty()) {
    return absl::InvalidArgumentError("UnifiedClient needs at least one endpoint");
  }
  std::map<Protocol, std::shared_ptr<Transport>> transports;
  for (const auto& url : options.endpoints) {
    auto transport = factory.CreateTransport(url, options.config);
    if (!transport.ok()) return transport.status();
    Protocol protocol = (*transport)->protocol();
    if (transports.count(protocol) > 0) {
      return absl::InvalidArgumentError(
          absl::StrCat("two endpoints for protocol ", ProtocolName(protocol)));
    }
    transports[protocol] = *std::move(transport);
  }
  return std::shared_ptr<UnifiedClient>(
      new UnifiedClient(std::move(options), std::move(transports)));
}

UnifiedClient::UnifiedClient(UnifiedClientOptions options,
                             std::map<Protocol, std::shared_ptr<Transport>> transports)
    : options_(std::move(options)),
      selector_(options_.preference),
      transports_(std::move(transports)) {
  for (const auto& [protocol, _] : transports_) offered_.push_back(protocol);
}

std::string UnifiedClient::target() const {
  std::vector<std::string> targets;
  for (const auto& [_, t] : transports_) targets.push_back(t->target());
  return absl::StrJoin(targets, ",");
}

bool UnifiedClient::IsUsable(Protocol protocol) const {
  {
    absl::MutexLock lock(&mu_);
    auto it = down_until_.find(protocol);
    if (it != down_until_.end() && absl::Now() < it->second) return false;
  }
  return transports_.at(protocol)->Available();
}

void UnifiedClient::MarkDown(Protocol protocol) {
  absl::MutexLock lock(&mu_);
  down_until_[protocol] = absl::Now() + options_.unavailable_cooldown;
}

std::vector<Protocol> UnifiedClient::Plan(CallKind kind) const {
  return selector_.Order(kind, offered_, [this](Protocol p) { return IsUsable(p); });
}

bool UnifiedClient::Available() const {
  for (Protocol p : offered_) {
    if (IsUsable(p)) return true;
  }
  return false;
}

Protocol UnifiedClient::last_protocol() const {
  absl::MutexLock lock(&mu_);
  return last_protocol_;
}

AttemptOutcome UnifiedClient::Unary(const MethodInfo& method,
                                    const google::protobuf::Message& request,
                                    google::protobuf::Message* response,
                                    const CallOptions& options) {
  std::vector<Protocol> order = Plan(CallKind::kUnary);
  if (order.empty()) {
    return AttemptOutcome{absl::UnimplementedError(absl::StrCat(
                              "no endpoint can carry unary calls of ", method.full_name)),
                          false, std::nullopt};
  }
  bool idempotent = options.idempotent.value_or(method.idempotent);
  AttemptOutcome outcome;
  for (Protocol protocol : order) {
    outcome = transports_.at(protocol)->Unary(method, request, response, options);
    if (options.stats != nullptr) options.stats->protocol = protocol;
    if (outcome.status.ok()) {
      absl::MutexLock lock(&mu_);
      last_protocol_ = protocol;
      return outcome;
    }
    if (!ProtocolSelector::ShouldFallBack(outcome, idempotent)) return outcome;
    if (!outcome.reached_server) MarkDown(protocol);
  }
  return outcome;
}

absl::StatusOr<std::unique_ptr<ClientStream>> UnifiedClient::OpenStream(
    const MethodInfo& method, const CallOptions& options) {
  std::vector<Protocol> order = Plan(CallKindFor(method.kind));
  absl::Status last = absl::UnimplementedError(
      absl::StrCat("no endpoint can carry ", StreamKindName(method.kind), " calls"));
  for (Protocol protocol : order) {
    auto stream = transports_.at(protocol)->OpenStream(method, options);
    if (stream.ok()) {
      absl::MutexLock lock(&mu_);
      last_protocol_ = protocol;
      return stream;
    }
    last = stream.status();
    if (last.code() != absl::StatusCode::kUnavailable) return last;
    MarkDown(protocol);
  }
  return last;
}

absl::Status UnifiedClient::Call(absl::string_view method_name,
                                 const google::protobuf::Message& request,
                                 google::protobuf::Message* response,
                                 const CallOptions& options) {
  auto method = DescriptorRegistry::Default().FindMethod(method_name);
  if (!method.ok()) return method.status();
  return InvokeUnary(*this, *method, request, response, options, options_.config.retry);
}

absl::StatusOr<std::string> UnifiedClient::CallJson(absl::string_view method,
                                                    absl::string_view json,
                                                    const CallOptions& options) {
  return CallUnaryJson(*this, DescriptorRegistry::Default(), method, json, options,
                       options_.config.retry);
}

}  // namespace kei
