// Every method the server can run, by canonical name. Filled before the server
// starts and read-only afterwards, so lookups on the hot path take no lock.
#pragma once

#include <vector>

#include "absl/container/node_hash_map.h"
#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "cc/dispatch/method_handler.h"

namespace kei {

class HandlerRegistry {
 public:
  // ALREADY_EXISTS if the method is registered already.
  absl::Status Register(MethodHandler handler);
  // Any spelling CanonicalMethodName accepts; nullptr if unknown.
  const MethodHandler* Find(absl::string_view method) const;
  // Canonical names, sorted.
  std::vector<std::string> MethodNames() const;
  std::vector<const MethodHandler*> Handlers() const;

 private:
  absl::node_hash_map<std::string, MethodHandler> handlers_;
};

}  // namespace kei
