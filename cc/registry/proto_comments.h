// Leading comments of proto elements (services, methods, messages, fields,
// enums and their values) by full name. Compiled-in descriptors carry no
// source info, so the generated code (protoc-gen-kei) registers the comments
// of its file here; adapters that describe a service to people or models
// (MCP tool descriptions and JSON Schemas) read them back.
#pragma once

#include <initializer_list>
#include <string>
#include <utility>

#include "absl/strings/string_view.h"

namespace kei {

class ProtoComments {
 public:
  // Adds (full name, comment) pairs; a later registration of a name wins.
  static bool Register(std::initializer_list<std::pair<const char*, const char*>> entries);
  // The comment, or "" when none was registered.
  static std::string Find(absl::string_view full_name);
};

}  // namespace kei
