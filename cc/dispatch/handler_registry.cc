#include "cc/dispatch/handler_registry.h"

#include "absl/strings/string_view.h"
#include <algorithm>

#include "absl/strings/str_cat.h"

namespace kei {

absl::Status HandlerRegistry::Register(MethodHandler handler) {
  std::string name = handler.info.full_name;
  auto [it, inserted] = handlers_.try_emplace(name, std::move(handler));
  if (!inserted) return absl::AlreadyExistsError(absl::StrCat(name, " is registered twice"));
  return absl::OkStatus();
}

const MethodHandler* HandlerRegistry::Find(absl::string_view method) const {
  auto it = handlers_.find(method);
  if (it != handlers_.end()) return &it->second;
  it = handlers_.find(CanonicalMethodName(method));
  return it == handlers_.end() ? nullptr : &it->second;
}

std::vector<std::string> HandlerRegistry::MethodNames() const {
  std::vector<std::string> names;
  for (const auto& [name, _] : handlers_) names.push_back(name);
  std::sort(names.begin(), names.end());
  return names;
}

std::vector<const MethodHandler*> HandlerRegistry::Handlers() const {
  std::vector<const MethodHandler*> out;
  for (const auto& [_, h] : handlers_) out.push_back(&h);
  std::sort(out.begin(), out.end(), [](auto* a, auto* b) {
    return a->info.full_name < b->info.full_name;
  });
  return out;
}

}  // namespace kei
