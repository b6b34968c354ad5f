#include "tools/protoc-gen-kei/kei_generator.h"

#include <memory>
#include <string>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "google/protobuf/descriptor.h"
#include "google/protobuf/io/printer.h"
#include "google/protobuf/io/zero_copy_stream.h"

namespace kei::codegen {
namespace {

namespace gp = google::protobuf;

std::string StripProto(const std::string& filename) {
  return std::string(absl::StripSuffix(filename, ".proto"));
}

std::string Namespace(const gp::FileDescriptor* file) {
  if (file->package().empty()) return "";
  return absl::StrJoin(absl::StrSplit(file->package(), '.'), "::");
}

// The C++ class protoc generates for a message: package namespaces, then the
// nesting path joined with '_'.
std::string ClassName(const gp::Descriptor* message) {
  std::string relative = message->full_name();
  const std::string& package = message->file()->package();
  if (!package.empty()) relative = relative.substr(package.size() + 1);
  std::string ns = Namespace(message->file());
  return absl::StrCat("::", ns.empty() ? "" : ns + "::",
                      absl::StrReplaceAll(relative, {{".", "_"}}));
}

// The proto comment, as C++ line comments indented by `indent`.
std::string Comment(const gp::SourceLocation& location, const std::string& indent) {
  std::string text = location.leading_comments;
  std::string out;
  for (absl::string_view line : absl::StrSplit(absl::StripSuffix(text, "\n"), '\n')) {
    if (text.empty()) break;
    absl::StrAppend(&out, indent, "//", line, "\n");
  }
  return out;
}

template <class D>
std::string CommentOf(const D* descriptor, const std::string& indent) {
  gp::SourceLocation location;
  if (!descriptor->GetSourceLocation(&location)) return "";
  return Comment(location, indent);
}

// The comment text itself: each line without the one space after "//".
template <class D>
std::string PlainComment(const D* descriptor) {
  gp::SourceLocation location;
  if (!descriptor->GetSourceLocation(&location)) return "";
  std::vector<std::string> lines;
  for (absl::string_view line : absl::StrSplit(location.leading_comments, '\n')) {
    absl::ConsumePrefix(&line, " ");
    lines.emplace_back(absl::StripTrailingAsciiWhitespace(line));
  }
  while (!lines.empty() && lines.back().empty()) lines.pop_back();
  return absl::StrJoin(lines, "\n");
}

template <class D>
void AddComment(const D* descriptor, std::vector<std::pair<std::string, std::string>>* out) {
  std::string text = PlainComment(descriptor);
  if (!text.empty()) out->emplace_back(descriptor->full_name(), std::move(text));
}

void CollectComments(const gp::EnumDescriptor* e,
                     std::vector<std::pair<std::string, std::string>>* out) {
  AddComment(e, out);
  for (int i = 0; i < e->value_count(); ++i) AddComment(e->value(i), out);
}

void CollectComments(const gp::Descriptor* m,
                     std::vector<std::pair<std::string, std::string>>* out) {
  AddComment(m, out);
  for (int i = 0; i < m->field_count(); ++i) AddComment(m->field(i), out);
  for (int i = 0; i < m->nested_type_count(); ++i) CollectComments(m->nested_type(i), out);
  for (int i = 0; i < m->enum_type_count(); ++i) CollectComments(m->enum_type(i), out);
}

// Registers the file's proto comments with kei::ProtoComments, so adapters
// can describe methods and fields at run time.
void GenerateComments(const gp::FileDescriptor* file, gp::io::Printer& p) {
  std::vector<std::pair<std::string, std::string>> comments;
  for (int s = 0; s < file->service_count(); ++s) {
    AddComment(file->service(s), &comments);
    for (int i = 0; i < file->service(s)->method_count(); ++i) {
      AddComment(file->service(s)->method(i), &comments);
    }
  }
  for (int i = 0; i < file->message_type_count(); ++i) CollectComments(file->message_type(i), &comments);
  for (int i = 0; i < file->enum_type_count(); ++i) CollectComments(file->enum_type(i), &comments);
  p.Print("const bool kCommentsRegistered = ::kei::ProtoComments::Register({\n");
  for (const auto& [name, text] : comments) {
    p.Print("    {\"$name$\", \"$text$\"},\n", "name", name, "text", absl::CEscape(text));
  }
  p.Print("});\n\n");
}

// Handler parameter list for a method, after `::kei::Context& context, `.
std::string HandlerParams(const gp::MethodDescriptor* m) {
  std::string req = ClassName(m->input_type());
  std::string resp = ClassName(m->output_type());
  if (m->client_streaming() && m->server_streaming()) {
    return absl::StrCat("::kei::BidiStream<", req, ", ", resp, ">& stream");
  }
  if (m->client_streaming()) {
    return absl::StrCat("::kei::StreamReader<", req, ">& stream, ", resp, "* response");
  }
  if (m->server_streaming()) {
    return absl::StrCat("const ", req, "& request, ::kei::StreamWriter<", resp, ">& stream");
  }
  return absl::StrCat("const ", req, "& request, ", resp, "* response");
}

std::string MemberName(const gp::MethodDescriptor* m) {
  std::string out;
  for (char c : m->name()) {
    if (isupper(static_cast<unsigned char>(c))) {
      if (!out.empty()) out.push_back('_');
      out.push_back(static_cast<char>(tolower(c)));
    } else {
      out.push_back(c);
    }
  }
  return out + "_";
}

void GenerateHeader(const gp::FileDescriptor* file, gp::io::Printer& p) {
  std::string base = StripProto(file->name());
  p.Print(
      "// Generated by protoc-gen-kei from $file$. DO NOT EDIT.\n"
      "// Typed handler interfaces for the kit's dispatch; see cc/dispatch.\n"
      "#pragma once\n\n"
      "#include <memory>\n\n"
      "#include \"absl/status/status.h\"\n"
      "#include \"cc/dispatch/context.h\"\n"
      "#include \"cc/dispatch/service_binding.h\"\n"
      "#include \"cc/dispatch/typed_streams.h\"\n"
      "#include \"$base$.pb.h\"\n\n",
      "file", file->name(), "base", base);
  std::string ns = Namespace(file);
  if (!ns.empty()) p.Print("namespace $ns$ {\n\n", "ns", ns);
  for (int s = 0; s < file->service_count(); ++s) {
    const gp::ServiceDescriptor* service = file->service(s);
    p.Print("$comment$", "comment", CommentOf(service, ""));
    p.Print(
        "// Implement this to serve $full$ over every protocol the kit speaks.\n"
        "// Methods not overridden answer UNIMPLEMENTED.\n"
        "class $name$Handler {\n"
        " public:\n"
        "  virtual ~$name$Handler() = default;\n",
        "full", service->full_name(), "name", service->name());
    for (int i = 0; i < service->method_count(); ++i) {
      const gp::MethodDescriptor* m = service->method(i);
      p.Print("\n$comment$", "comment", CommentOf(m, "  "));
      p.Print("  virtual ::absl::Status $method$(::kei::Context& context, $params$);\n",
              "method", m->name(), "params", HandlerParams(m));
    }
    p.Print(
        "};\n\n"
        "// Registry entries and gRPC glue for `handler`; pass to kei::Server::AddService.\n"
        "::kei::ServiceBinding Bind$name$(std::shared_ptr<$name$Handler> handler);\n\n",
        "name", service->name());
  }
  if (!ns.empty()) p.Print("}  // namespace $ns$\n", "ns", ns);
}

void GenerateRegistration(const gp::MethodDescriptor* m, int index, gp::io::Printer& p) {
  std::string req = ClassName(m->input_type());
  std::string resp = ClassName(m->output_type());
  p.Print(
      "  {\n"
      "    ::kei::MethodHandler entry;\n"
      "    entry.info = ::kei::MethodInfo::FromDescriptor(binding.descriptor->method($index$));\n"
      "    entry.request_prototype = &$req$::default_instance();\n"
      "    entry.response_prototype = &$resp$::default_instance();\n",
      "index", absl::StrCat(index), "req", req, "resp", resp);
  std::map<std::string, std::string> vars = {
      {"req", req}, {"resp", resp}, {"method", m->name()}};
  if (m->client_streaming() && m->server_streaming()) {
    p.Print(vars,
            "    entry.stream = [impl](::kei::Context& context, ::kei::StreamIO& io) {\n"
            "      ::kei::BidiStream<$req$, $resp$> stream(io);\n"
            "      return impl->$method$(context, stream);\n"
            "    };\n");
  } else if (m->client_streaming()) {
    p.Print(vars,
            "    entry.stream = [impl](::kei::Context& context, ::kei::StreamIO& io) {\n"
            "      ::kei::StreamReader<$req$> stream(io);\n"
            "      $resp$ response;\n"
            "      ::absl::Status status = impl->$method$(context, stream, &response);\n"
            "      if (status.ok() && !io.Write(response)) {\n"
            "        return ::absl::CancelledError(\"caller went away before the response\");\n"
            "      }\n"
            "      return status;\n"
            "    };\n");
  } else if (m->server_streaming()) {
    p.Print(vars,
            "    entry.stream = [impl](::kei::Context& context, ::kei::StreamIO& io) {\n"
            "      $req$ request;\n"
            "      if (!io.Read(&request)) {\n"
            "        return ::absl::InvalidArgumentError(\"missing request message\");\n"
            "      }\n"
            "      ::kei::StreamWriter<$resp$> stream(io);\n"
            "      return impl->$method$(context, request, stream);\n"
            "    };\n");
  } else {
    p.Print(vars,
            "    entry.unary = [impl](::kei::Context& context,\n"
            "                         const ::google::protobuf::Message& request,\n"
            "                         ::google::protobuf::Message* response) {\n"
            "      return impl->$method$(context, static_cast<const $req$&>(request),\n"
            "                          static_cast<$resp$*>(response));\n"
            "    };\n");
  }
  p.Print("    binding.methods.push_back(std::move(entry));\n  }\n");
}

void GenerateGlue(const gp::ServiceDescriptor* service, gp::io::Printer& p) {
  // Every method through the callback API: unary ones typed, streaming ones
  // raw (serialized bytes in and out, see cc/grpc/grpc_reactors.h).
  std::string base = service->name() + "::Service";
  for (int i = service->method_count() - 1; i >= 0; --i) {
    const gp::MethodDescriptor* m = service->method(i);
    const bool raw = m->client_streaming() || m->server_streaming();
    base = service->name() + (raw ? "::WithRawCallbackMethod_" : "::WithCallbackMethod_") +
           m->name() + "<" + base + ">";
  }
  std::map<std::string, std::string> vars = {{"name", service->name()}, {"base", base}};
  p.Print(vars,
          "// gRPC glue: each method enters the kit dispatch directly, with no\n"
          "// in-process gRPC hop.\n"
          "class $name$GrpcGlue final : public $base$ {\n"
          " public:\n"
          "  explicit $name$GrpcGlue(const ::kei::Dispatcher& dispatcher)\n"
          "      : dispatcher_(dispatcher)");
  for (int i = 0; i < service->method_count(); ++i) {
    const gp::MethodDescriptor* m = service->method(i);
    p.Print(",\n        $member$(*dispatcher.registry().Find(\"$full$/$method$\"))",
            "member", MemberName(m), "full", service->full_name(), "method", m->name());
  }
  p.Print(" {}\n");
  for (int i = 0; i < service->method_count(); ++i) {
    const gp::MethodDescriptor* m = service->method(i);
    std::map<std::string, std::string> mv = {{"method", m->name()},
                                             {"member", MemberName(m)},
                                             {"req", ClassName(m->input_type())},
                                             {"resp", ClassName(m->output_type())}};
    p.Print("\n");
    if (m->client_streaming() && m->server_streaming()) {
      p.Print(mv,
              "  ::grpc::ServerBidiReactor<::grpc::ByteBuffer, ::grpc::ByteBuffer>* $method$(\n"
              "      ::grpc::CallbackServerContext* context) override {\n"
              "    return ::kei::grpc_glue::ServeBidiStream(dispatcher_, $member$, context);\n"
              "  }\n");
    } else if (m->client_streaming()) {
      p.Print(mv,
              "  ::grpc::ServerReadReactor<::grpc::ByteBuffer>* $method$(\n"
              "      ::grpc::CallbackServerContext* context, ::grpc::ByteBuffer* response) override {\n"
              "    return ::kei::grpc_glue::ServeClientStream(dispatcher_, $member$, context,\n"
              "                                               response);\n"
              "  }\n");
    } else if (m->server_streaming()) {
      p.Print(mv,
              "  ::grpc::ServerWriteReactor<::grpc::ByteBuffer>* $method$(\n"
              "      ::grpc::CallbackServerContext* context,\n"
              "      const ::grpc::ByteBuffer* request) override {\n"
              "    return ::kei::grpc_glue::ServeServerStream(dispatcher_, $member$, context,\n"
              "                                               request);\n"
              "  }\n");
    } else {
      p.Print(mv,
              "  ::grpc::ServerUnaryReactor* $method$(::grpc::CallbackServerContext* context,\n"
              "                                      const $req$* request,\n"
              "                                      $resp$* response) override {\n"
              "    return ::kei::grpc_glue::ServeUnary(dispatcher_, $member$, context, request,\n"
              "                                       response);\n"
              "  }\n");
    }
  }
  p.Print("\n private:\n  const ::kei::Dispatcher& dispatcher_;\n");
  for (int i = 0; i < service->method_count(); ++i) {
    p.Print("  const ::kei::MethodHandler& $member$;\n", "member",
            MemberName(service->method(i)));
  }
  p.Print("};\n\n");
}

void GenerateSource(const gp::FileDescriptor* file, gp::io::Printer& p) {
  std::string base = StripProto(file->name());
  p.Print(
      "// Generated by protoc-gen-kei from $file$. DO NOT EDIT.\n"
      "#include \"$base$.kei.h\"\n\n"
      "#include <utility>\n\n"
      "#include \"$base$.grpc.pb.h\"\n"
      "#include \"cc/dispatch/dispatcher.h\"\n"
      "#include \"cc/grpc/grpc_reactors.h\"\n"
      "#include \"cc/registry/proto_comments.h\"\n\n",
      "file", file->name(), "base", base);
  std::string ns = Namespace(file);
  if (!ns.empty()) p.Print("namespace $ns$ {\n\n", "ns", ns);
  for (int s = 0; s < file->service_count(); ++s) {
    const gp::ServiceDescriptor* service = file->service(s);
    for (int i = 0; i < service->method_count(); ++i) {
      const gp::MethodDescriptor* m = service->method(i);
      p.Print(
          "::absl::Status $name$Handler::$method$(::kei::Context&, $params$) {\n"
          "  return ::absl::UnimplementedError(\"$full$/$method$ is not implemented\");\n"
          "}\n\n",
          "name", service->name(), "method", m->name(), "full", service->full_name(),
          "params", absl::StrReplaceAll(HandlerParams(m), {{"& request", "&"},
                                                           {"& stream", "&"},
                                                           {"* response", "*"}}));
    }
  }
  p.Print("namespace {\n\n");
  GenerateComments(file, p);
  for (int s = 0; s < file->service_count(); ++s) GenerateGlue(file->service(s), p);
  p.Print("}  // namespace\n\n");
  for (int s = 0; s < file->service_count(); ++s) {
    const gp::ServiceDescriptor* service = file->service(s);
    p.Print(
        "::kei::ServiceBinding Bind$name$(std::shared_ptr<$name$Handler> handler) {\n"
        "  ::kei::ServiceBinding binding;\n"
        "  binding.descriptor = $any$::descriptor()->file()->FindServiceByName(\"$name$\");\n"
        "  $name$Handler* impl = handler.get();\n"
        "  binding.implementation = std::move(handler);\n",
        "name", service->name(), "any",
        ClassName(service->method_count() > 0 ? service->method(0)->input_type()
                                              : file->message_type(0)));
    for (int i = 0; i < service->method_count(); ++i) {
      GenerateRegistration(service->method(i), i, p);
    }
    p.Print(
        "  binding.grpc_service = [](const ::kei::Dispatcher& dispatcher) {\n"
        "    return std::unique_ptr<::grpc::Service>(new $name$GrpcGlue(dispatcher));\n"
        "  };\n"
        "  return binding;\n"
        "}\n\n",
        "name", service->name());
  }
  if (!ns.empty()) p.Print("}  // namespace $ns$\n", "ns", ns);
}

}  // namespace

bool KeiGenerator::Generate(const gp::FileDescriptor* file, const std::string& parameter,
                            gp::compiler::GeneratorContext* context,
                            std::string* error) const {
  std::string base = StripProto(file->name());
  for (int s = 0; s < file->service_count(); ++s) {
    if (file->service(s)->method_count() == 0) {
      *error = absl::StrCat("service ", file->service(s)->full_name(), " has no methods");
      return false;
    }
  }
  {
    std::unique_ptr<gp::io::ZeroCopyOutputStream> out(context->Open(base + ".kei.h"));
    gp::io::Printer printer(out.get(), '$');
    GenerateHeader(file, printer);
  }
  {
    std::unique_ptr<gp::io::ZeroCopyOutputStream> out(context->Open(base + ".kei.cc"));
    gp::io::Printer printer(out.get(), '$');
    GenerateSource(file, printer);
  }
  return true;
}

}  // namespace kei::codegen
