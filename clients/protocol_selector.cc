#include "clients/protocol_selector.h"

#include <algorithm>

namespace kei {

CallKind CallKindFor(StreamKind kind) {
  return kind == StreamKind::kUnary ? CallKind::kUnary : CallKind::kStream;
}

bool ProtocolSelector::Carries(Protocol protocol, CallKind kind) {
  const auto& order = DefaultOrder(kind);
  return std::find(order.begin(), order.end(), protocol) != order.end();
}

const std::vector<Protocol>& ProtocolSelector::DefaultOrder(CallKind kind) {
  static const std::vector<Protocol> kUnaryOrder = {Protocol::kGrpc, Protocol::kHttp,
                                                    Protocol::kWebSocket, Protocol::kMcp};
  static const std::vector<Protocol> kStreamOrder = {Protocol::kWebSocket, Protocol::kGrpc,
                                                     Protocol::kHttp};
  static const std::vector<Protocol> kTopicOrder = {Protocol::kBus, Protocol::kWebSocket};
  static const std::vector<Protocol> kToolOrder = {Protocol::kMcp, Protocol::kGrpc,
                                                   Protocol::kHttp};
  switch (kind) {
    case CallKind::kUnary: return kUnaryOrder;
    case CallKind::kStream: return kStreamOrder;
    case CallKind::kTopic: return kTopicOrder;
    case CallKind::kTool: return kToolOrder;
  }
  return kUnaryOrder;
}

std::vector<Protocol> ProtocolSelector::Order(
    CallKind kind, const std::vector<Protocol>& offered,
    const std::function<bool(Protocol)>& available) const {
  std::vector<Protocol> order;
  auto add = [&](Protocol p) {
    bool is_offered = std::find(offered.begin(), offered.end(), p) != offered.end();
    bool is_new = std::find(order.begin(), order.end(), p) == order.end();
    if (is_offered && is_new && Carries(p, kind)) order.push_back(p);
  };
  for (Protocol p : preference_) add(p);
  for (Protocol p : DefaultOrder(kind)) add(p);
  if (available) {
    std::stable_partition(order.begin(), order.end(), available);
  }
  return order;
}

bool ProtocolSelector::ShouldFallBack(const AttemptOutcome& outcome, bool idempotent) {
  return outcome.status.code() == absl::StatusCode::kUnavailable &&
         (idempotent || !outcome.reached_server);
}

}  // namespace kei
