#include "cc/registry/descriptor_registry.h"

#include "absl/strings/string_view.h"
#include <fstream>
#include <sstream>
#include <vector>

#include "absl/strings/str_cat.h"

namespace kei {

namespace gp = google::protobuf;

DescriptorRegistry::DescriptorRegistry()
    : pool_(gp::DescriptorPool::generated_pool()), dynamic_factory_(&pool_) {
  dynamic_factory_.SetDelegateToGeneratedFactory(true);
}

DescriptorRegistry& DescriptorRegistry::Default() {
  static auto* registry = new DescriptorRegistry();
  return *registry;
}

absl::Status DescriptorRegistry::AddFileLocked(
    const std::string& name,
    absl::flat_hash_map<std::string, const gp::FileDescriptorProto*>& pending) {
  auto it = pending.find(name);
  if (it == pending.end()) return absl::OkStatus();
  const gp::FileDescriptorProto* file = it->second;
  pending.erase(it);
  if (pool_.FindFileByName(name) != nullptr) return absl::OkStatus();
  for (const auto& dep : file->dependency()) {
    if (auto s = AddFileLocked(dep, pending); !s.ok()) return s;
  }
  if (pool_.BuildFile(*file) == nullptr) {
    return absl::InvalidArgumentError(
        absl::StrCat("descriptor set: cannot build ", name,
                     " (missing or conflicting definitions)"));
  }
  return absl::OkStatus();
}

absl::Status DescriptorRegistry::AddFileDescriptorSet(const gp::FileDescriptorSet& set) {
  // Files are added depth-first along their dependencies; bounding the set
  // bounds that recursion, whoever sent the set (a file, a reflection server).
  constexpr int kMaxFiles = 4096;
  if (set.file_size() > kMaxFiles) {
    return absl::InvalidArgumentError(absl::StrCat(
        "descriptor set has ", set.file_size(), " files; at most ", kMaxFiles, " are accepted"));
  }
  absl::MutexLock lock(&mu_);
  absl::flat_hash_map<std::string, const gp::FileDescriptorProto*> pending;
  std::vector<std::string> order;
  for (const auto& file : set.file()) {
    pending[file.name()] = &file;
    order.push_back(file.name());
  }
  for (const auto& name : order) {
    if (auto s = AddFileLocked(name, pending); !s.ok()) return s;
  }
  return absl::OkStatus();
}

absl::Status DescriptorRegistry::LoadDescriptorSetFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot open descriptor set ", path));
  std::stringstream buffer;
  buffer << in.rdbuf();
  gp::FileDescriptorSet set;
  // Many byte strings parse as protobuf; a real set has files, each named.
  bool valid = set.ParseFromString(buffer.str()) && set.file_size() > 0;
  for (const auto& file : set.file()) valid = valid && !file.name().empty();
  if (!valid) {
    return absl::InvalidArgumentError(
        absl::StrCat(path, " is not a binary FileDescriptorSet"));
  }
  return AddFileDescriptorSet(set);
}

absl::StatusOr<MethodInfo> DescriptorRegistry::FindMethod(absl::string_view name) const {
  std::string canonical = CanonicalMethodName(name);
  if (canonical.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "bad method name '", name, "': expected package.Service/Method"));
  }
  auto slash = canonical.find('/');
  std::string service_name = canonical.substr(0, slash);
  std::string method_name = canonical.substr(slash + 1);
  const gp::ServiceDescriptor* service = FindService(service_name);
  if (service == nullptr) {
    return absl::UnimplementedError(absl::StrCat("unknown service ", service_name));
  }
  const gp::MethodDescriptor* method = service->FindMethodByName(method_name);
  if (method == nullptr) {
    return absl::UnimplementedError(
        absl::StrCat("unknown method ", method_name, " in service ", service_name));
  }
  return MethodInfo::FromDescriptor(method);
}

const gp::ServiceDescriptor* DescriptorRegistry::FindService(
    absl::string_view full_name) const {
  absl::MutexLock lock(&mu_);
  return pool_.FindServiceByName(std::string(full_name));
}

const gp::Descriptor* DescriptorRegistry::FindMessage(absl::string_view full_name) const {
  absl::MutexLock lock(&mu_);
  return pool_.FindMessageTypeByName(std::string(full_name));
}

const gp::FileDescriptor* DescriptorRegistry::FindFile(absl::string_view file_name) const {
  absl::MutexLock lock(&mu_);
  return pool_.FindFileByName(std::string(file_name));
}

std::unique_ptr<gp::Message> DescriptorRegistry::NewMessage(
    const gp::Descriptor* type) const {
  if (type == nullptr) return nullptr;
  // Types from the generated pool have generated classes.
  if (type->file()->pool() == gp::DescriptorPool::generated_pool()) {
    const gp::Message* prototype =
        gp::MessageFactory::generated_factory()->GetPrototype(type);
    if (prototype != nullptr) return std::unique_ptr<gp::Message>(prototype->New());
  }
  absl::MutexLock lock(&mu_);
  const gp::Message* prototype = dynamic_factory_.GetPrototype(type);
  return prototype ? std::unique_ptr<gp::Message>(prototype->New()) : nullptr;
}

}  // namespace kei
