// Entry point of protoc-gen-kei; protoc runs it with --kei_out.
#include "google/protobuf/compiler/plugin.h"
#include "tools/protoc-gen-kei/kei_generator.h"

int main(int argc, char* argv[]) {
  kei::codegen::KeiGenerator generator;
  return google::protobuf::compiler::PluginMain(argc, argv, &generator);
}
