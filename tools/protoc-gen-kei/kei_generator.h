// protoc-gen-kei: generates, for every service in a .proto file, the typed
// handler interface services implement, the registry entries that put those
// handlers behind the kit's dispatch, and the gRPC glue (callback API) that
// enters the same dispatch. Output: <file>.kei.h and <file>.kei.cc next to
// protoc's own <file>.pb.h and grpc's <file>.grpc.pb.h.
#pragma once

#include <string>

#include "google/protobuf/compiler/code_generator.h"

namespace kei::codegen {

class KeiGenerator final : public google::protobuf::compiler::CodeGenerator {
 public:
  bool Generate(const google::protobuf::FileDescriptor* file,
                const std::string& parameter,
                google::protobuf::compiler::GeneratorContext* context,
                std::string* error) const override;
  uint64_t GetSupportedFeatures() const override { return FEATURE_PROTO3_OPTIONAL; }
};

}  // namespace kei::codegen
