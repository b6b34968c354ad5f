// Which protocol carries a call, in which order to fall back. The rules:
// an explicit preference first, then the protocols suited to the kind of call
// (unary -> RPC, streaming -> Stream, topic -> Bus, tool -> MCP), and among
// those, available transports before ones known to be down. Falling back to
// the next protocol happens only on UNAVAILABLE, and only when it is safe: the
// method is idempotent or the failed attempt never reached a server.
#pragma once

#include <functional>
#include <vector>

#include "cc/registry/method_info.h"
#include "cc/retry/retry_policy.h"
#include "clients/protocol.h"

namespace kei {

enum class CallKind { kUnary, kStream, kTopic, kTool };

CallKind CallKindFor(StreamKind kind);

class ProtocolSelector {
 public:
  ProtocolSelector() = default;
  explicit ProtocolSelector(std::vector<Protocol> preference)
      : preference_(std::move(preference)) {}

  // Whether `protocol` can carry a call of this kind at all.
  static bool Carries(Protocol protocol, CallKind kind);
  // The kit's default order for a kind of call.
  static const std::vector<Protocol>& DefaultOrder(CallKind kind);

  // Candidates among `offered`, best first. `available` reports whether a
  // protocol's transport is currently usable; unavailable ones go last.
  std::vector<Protocol> Order(CallKind kind, const std::vector<Protocol>& offered,
                              const std::function<bool(Protocol)>& available) const;

  // True when a failed attempt may be retried on the next protocol.
  static bool ShouldFallBack(const AttemptOutcome& outcome, bool idempotent);

 private:
  std::vector<Protocol> preference_;
};

}  // namespace kei
