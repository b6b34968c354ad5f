// Every message and method the kit can handle generically, by full name: the
// compiled-in descriptors plus descriptor sets loaded at run time (files, or
// fetched from a server's reflection service). Generic code (keictl, the JSON
// paths of every adapter) creates messages for any registered method here.
#pragma once

#include <memory>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "cc/registry/method_info.h"
#include "google/protobuf/descriptor.h"
#include "google/protobuf/descriptor.pb.h"
#include "google/protobuf/dynamic_message.h"
#include "google/protobuf/message.h"

namespace kei {

class DescriptorRegistry {
 public:
  DescriptorRegistry();
  DescriptorRegistry(const DescriptorRegistry&) = delete;
  DescriptorRegistry& operator=(const DescriptorRegistry&) = delete;

  // The process-wide registry of compiled-in descriptors.
  static DescriptorRegistry& Default();

  // Adds files (dependencies first or in any order: they are resolved as a set).
  // Files already known (compiled in or added before) are skipped.
  absl::Status AddFileDescriptorSet(const google::protobuf::FileDescriptorSet& set);
  // Reads a binary FileDescriptorSet (`protoc --descriptor_set_out --include_imports`).
  absl::Status LoadDescriptorSetFile(const std::string& path);

  // A method by any accepted spelling (see CanonicalMethodName).
  absl::StatusOr<MethodInfo> FindMethod(absl::string_view name) const;
  const google::protobuf::ServiceDescriptor* FindService(absl::string_view full_name) const;
  const google::protobuf::Descriptor* FindMessage(absl::string_view full_name) const;
  const google::protobuf::FileDescriptor* FindFile(absl::string_view file_name) const;

  // A new, empty message of this type: the generated class when the type is
  // compiled in, a DynamicMessage otherwise.
  std::unique_ptr<google::protobuf::Message> NewMessage(
      const google::protobuf::Descriptor* type) const;

  const google::protobuf::DescriptorPool* pool() const { return &pool_; }

 private:
  absl::Status AddFileLocked(const std::string& name,
                             absl::flat_hash_map<std::string, const google::protobuf::FileDescriptorProto*>& pending)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  mutable absl::Mutex mu_;
  // Underlaid by the generated pool, so compiled-in types resolve to their
  // generated classes and loaded files may import them.
  google::protobuf::DescriptorPool pool_;
  mutable google::protobuf::DynamicMessageFactory dynamic_factory_;
};

}  // namespace kei
