// keictl: the kit's command-line client, grpcurl-style. JSON in, JSON out, for
// any method a server offers (compiled-in descriptors, --protoset files, or the
// server's reflection service), and for any MCP server's tools, resources and
// prompts (KEIMCPClient), and for the KEI bus (bus_command.h); a failed call
// exits non-zero with its code.
#include <iostream>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "cc/codec/json_codec.h"
#include "cc/registry/descriptor_registry.h"
#include "cc/status/code_names.h"
#include "clients/grpc/health_client.h"
#include "clients/grpc/reflection_client.h"
#include "clients/json_call.h"
#include "clients/mcp/kei_mcp_client.h"
#include "clients/protocol_client_factory.h"
#include "tools/keictl/bus_command.h"

namespace {

constexpr char kUsage[] = R"(keictl - call KEI Kit (and any gRPC) servers from the command line.

Usage:
  keictl [flags] call   <target> <method> [JSON]   call a method; JSON request (default {})
  keictl [flags] health <target> [service]         standard gRPC health check
  keictl [flags] list   <target> [service]         services, or one service's methods (reflection)
  keictl [flags] mcp tools     <mcp-target>               an MCP server's tools (every page)
  keictl [flags] mcp call      <mcp-target> <tool> [JSON] call a tool; JSON arguments (default {})
  keictl [flags] mcp resources <mcp-target>               its resources and resource templates
  keictl [flags] mcp prompts   <mcp-target>               its prompts
  keictl [flags] bus pub     <bus-target> <topic> <data>  publish a message
  keictl [flags] bus sub     <bus-target> <pattern>       print deliveries as they come
  keictl [flags] bus request <bus-target> <topic> <data>  send a request, print the reply

<target> is grpc://HOST:PORT, grpcs://HOST:PORT (TLS) or HOST:PORT. `call` also
takes http://, https:// (Connect protocol) and ws://, wss:// (KEI stream
protocol) URLs of keid's HTTP listener, and mcp+http://HOST:PORT/mcp,
mcp+https://... (unary methods as MCP tool calls, e.g.
keictl call mcp+http://127.0.0.1:8080/mcp kei.agent.v1.AgentService/Act
'{"action":"echo","params":{"text":"hi"}}'); health and list need gRPC.
<method> is package.Service/Method (or package.Service.Method).
Server-streaming methods print one JSON object per line; client and bidi streams
take a JSON array of requests.
<mcp-target> is an MCP server: an http:// or https:// Streamable HTTP URL
(e.g. http://127.0.0.1:8080/mcp), legacy+http://HOST:PORT for the original KEI
REST tool API (tools and call only), or a command that speaks MCP on stdio,
quoted when it has spaces: keictl mcp tools "keid --mcp-stdio". `mcp call`
prints the tool result; a result with "isError": true exits 2. For a stdio
server, --token is handed to it as $KEI_TOKEN (what keid --mcp-stdio reads).
<bus-target> is a KEI bus (kei.bus.v1.Bus): grpc://, grpcs://, ws:// or wss://.
Bus commands print one JSON object per line. `bus pub` sends <data> as given
and prints {"id", "sequence", "duplicate"}. `bus sub` prints each delivery
(topic, sequence, id, source, type, time, attempt, and data: JSON content as
JSON, text as a string, other bytes as data_base64); a <pattern> may use `*`
for one token and a final `>` for the rest (agent.*.events, agent.>). It runs
until --count deliveries were printed or, with --timeout-ms, until that long
passes without one: exit 0 if it printed any, 4 (DEADLINE_EXCEEDED) if none
came. With --group it joins that durable consumer group and acks each
delivery once printed (--no-ack leaves them to be redelivered). `bus request`
waits --timeout-ms for the first reply: 14 (UNAVAILABLE) when nothing
subscribes to the topic, 4 (DEADLINE_EXCEEDED) when no reply came in time.

Flags:
  --token TOKEN        send "authorization: Bearer TOKEN"
  --api-key KEY        send "x-api-key: KEY"
  -H "KEY: VALUE"      extra metadata (repeatable)
  --timeout-ms N       call deadline (default 30000)
  --cacert FILE        CA bundle to verify the server (TLS)
  --cert FILE          client certificate (mutual TLS)
  --key FILE           client private key (mutual TLS)
  --server-name NAME   expected name in the server certificate
  --protoset FILE      descriptor set (protoc --descriptor_set_out --include_imports)
  --compact            one-line JSON output
  --help               this help

Bus flags:
  --type T             CloudEvents type of the message (pub, request)
  --source S           CloudEvents source, e.g. kei://agent/planner (pub, request)
  --id ID              message id, the de-duplication key (default: a random UUID)
  --content-type CT    datacontenttype (default: application/json when <data>
                       parses as JSON, else text/plain)
  --group G            sub: join consumer group G (at-least-once, acked)
  --from POSITION      sub: start at new (default: new messages only), all
                       (every retained one), a sequence number, or an RFC 3339
                       time (messages published then or later)
  --count N            sub: exit after N deliveries
  --ack, --no-ack      sub: ack group deliveries once printed (default), or not

Exit status: 0 on success, the canonical gRPC code number (1-16) when a call
fails (e.g. 3 for INVALID_ARGUMENT, 14 for UNAVAILABLE), 64 for usage errors.
)";

constexpr int kUsageExit = 64;

struct Options {
  kei::ClientConfig config;
  kei::CallOptions call;
  std::vector<std::string> protosets;
  bool compact = false;
  std::vector<std::string> positional;
};

int Fail(const absl::Status& status) {
  std::cerr << "ERROR: " << kei::StatusToString(status) << "\n";
  int code = static_cast<int>(status.code());
  return code == 0 ? 1 : code;
}

int Usage(const std::string& message) {
  std::cerr << "keictl: " << message << "\n(see keictl --help)\n";
  return kUsageExit;
}

std::string Render(const std::string& json, bool compact) {
  if (compact) return json;
  auto doc = nlohmann::json::parse(json, nullptr, false);
  return doc.is_discarded() ? json : doc.dump(2);
}

// Finds the method: compiled in, from --protoset, or via server reflection.
absl::StatusOr<kei::MethodInfo> ResolveMethod(const std::string& name,
                                              std::shared_ptr<kei::Transport> transport,
                                              const Options& options) {
  auto& registry = kei::DescriptorRegistry::Default();
  auto method = registry.FindMethod(name);
  if (method.ok() || method.status().code() == absl::StatusCode::kInvalidArgument) return method;
  std::string canonical = kei::CanonicalMethodName(name);
  std::string service = canonical.substr(0, canonical.find('/'));
  absl::Status reflected = kei::ReflectionClient(transport).LoadSymbol(service, registry, options.call);
  if (!reflected.ok()) {
    return absl::Status(reflected.code(),
                        absl::StrCat("cannot resolve ", name, ": ", reflected.message(),
                                     " (pass --protoset if the server has no reflection)"));
  }
  return registry.FindMethod(name);
}

int RunStream(kei::Transport& transport, const kei::MethodInfo& method,
              const std::string& json_text, const Options& options) {
  auto& registry = kei::DescriptorRegistry::Default();
  auto doc = nlohmann::json::parse(json_text, nullptr, false);
  if (doc.is_discarded()) return Fail(absl::InvalidArgumentError("request is not valid JSON"));
  std::vector<nlohmann::json> requests;
  if (method.kind == kei::StreamKind::kServerStreaming) {
    requests.push_back(doc);
  } else if (doc.is_array()) {
    requests.assign(doc.begin(), doc.end());
  } else {
    requests.push_back(doc);
  }
  auto stream = transport.OpenStream(method, options.call);
  if (!stream.ok()) return Fail(stream.status());
  kei::JsonCodecOptions strict;
  strict.reject_unknown_fields = true;
  kei::JsonCodec in(strict), out;
  for (const auto& r : requests) {
    auto message = registry.NewMessage(method.descriptor->input_type());
    if (auto s = in.Unmarshal(r.dump(), message.get()); !s.ok()) {
      (*stream)->Cancel();
      return Fail(s);
    }
    if (!(*stream)->Write(*message)) break;
  }
  (*stream)->CloseSend();
  auto response = registry.NewMessage(method.descriptor->output_type());
  while ((*stream)->Read(response.get())) {
    std::string text;
    (void)out.Marshal(*response, &text);
    std::cout << text << std::endl;
  }
  absl::Status status = (*stream)->Finish();
  return status.ok() ? 0 : Fail(status);
}

// keictl mcp tools|call|resources|prompts <target> ...
int RunMcp(const Options& options) {
  const auto& args = options.positional;
  if (args.size() < 3) return Usage("mcp needs tools|call|resources|prompts and a target");
  const std::string& command = args[1];
  const std::string& target = args[2];
  bool call = command == "call";
  if (!call && command != "tools" && command != "resources" && command != "prompts") {
    return Usage(absl::StrCat("unknown mcp command '", command, "'"));
  }
  if (call ? (args.size() < 4 || args.size() > 5) : args.size() != 3) {
    return Usage(call ? "mcp call needs <target> <tool> [JSON]"
                      : absl::StrCat("mcp ", command, " needs exactly one target"));
  }
  nlohmann::ordered_json arguments = nlohmann::ordered_json::object();
  if (call && args.size() == 5) {
    arguments = nlohmann::ordered_json::parse(args[4], nullptr, false);
    if (arguments.is_discarded() || !arguments.is_object()) {
      return Usage("mcp call arguments must be a JSON object");
    }
  }
  kei::McpClientOptions mcp;
  mcp.client_name = "keictl";
  mcp.bearer_token = options.config.bearer_token;
  mcp.api_key = options.config.api_key;
  mcp.api_key_header = options.config.api_key_header;
  mcp.headers = options.call.metadata;
  mcp.tls.ca_file = options.config.tls.ca_file;
  mcp.tls.cert_file = options.config.tls.cert_file;
  mcp.tls.key_file = options.config.tls.key_file;
  mcp.tls.server_name_override = options.config.tls.server_name_override;
  mcp.timeout = options.call.timeout;
  mcp.open_event_stream = false;  // one-shot commands need no server-initiated stream
  auto client = kei::KEIMCPClient::Connect(target, mcp);
  if (!client.ok()) return Fail(client.status());
  auto print = [&](const nlohmann::ordered_json& value) {
    std::cout << (options.compact ? value.dump() : value.dump(2)) << std::endl;
  };
  if (call) {
    auto result = (*client)->call_tool(args[3], std::move(arguments));
    if (!result.ok()) return Fail(result.status());
    print(*result);
    auto error = result->find("isError");
    return error != result->end() && *error == true ? 2 : 0;
  }
  nlohmann::ordered_json out = nlohmann::ordered_json::object();
  auto put = [&](const char* key,
                 absl::StatusOr<std::vector<nlohmann::ordered_json>> items) -> absl::Status {
    if (!items.ok()) return items.status();
    out[key] = nlohmann::ordered_json(std::move(*items));
    return absl::OkStatus();
  };
  absl::Status status;
  if (command == "tools") {
    status = put("tools", (*client)->list_tools());
  } else if (command == "resources") {
    status = put("resources", (*client)->list_resources());
    if (status.ok()) status = put("resourceTemplates", (*client)->list_resource_templates());
  } else {
    status = put("prompts", (*client)->list_prompts());
  }
  if (!status.ok()) return Fail(status);
  print(out);
  return 0;
}

int Main(int argc, char** argv) {
  Options options;
  options.call.timeout = absl::Seconds(30);
  bool timeout_set = false;
  std::vector<std::pair<std::string, std::string>> bus_flags;
  std::string cacert, cert, key;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    auto value = [&](std::string* out) {
      if (i + 1 >= argc) return false;
      *out = argv[++i];
      return true;
    };
    std::string v;
    if (arg == "--help" || arg == "-h") {
      std::cout << kUsage;
      return 0;
    } else if (arg == "--token") {
      if (!value(&options.config.bearer_token)) return Usage("--token needs a value");
    } else if (arg == "--api-key") {
      if (!value(&options.config.api_key)) return Usage("--api-key needs a value");
    } else if (arg == "-H") {
      if (!value(&v) || v.find(':') == std::string::npos) return Usage("-H needs 'KEY: VALUE'");
      std::string k = absl::AsciiStrToLower(v.substr(0, v.find(':')));
      options.call.metadata.emplace(k, std::string(absl::StripAsciiWhitespace(v.substr(v.find(':') + 1))));
    } else if (arg == "--timeout-ms") {
      int64_t ms = 0;
      if (!value(&v) || !absl::SimpleAtoi(v, &ms) || ms <= 0) return Usage("--timeout-ms needs a positive integer");
      options.call.timeout = absl::Milliseconds(ms);
      timeout_set = true;
    } else if (arg == "--cacert") {
      if (!value(&cacert)) return Usage("--cacert needs a file");
    } else if (arg == "--cert") {
      if (!value(&cert)) return Usage("--cert needs a file");
    } else if (arg == "--key") {
      if (!value(&key)) return Usage("--key needs a file");
    } else if (arg == "--server-name") {
      if (!value(&options.config.tls.server_name_override)) return Usage("--server-name needs a value");
    } else if (arg == "--protoset") {
      if (!value(&v)) return Usage("--protoset needs a file");
      options.protosets.push_back(v);
    } else if (arg == "--compact") {
      options.compact = true;
    } else if (bool takes_value = false; keictl::IsBusFlag(arg, &takes_value)) {
      if (takes_value && !value(&v)) return Usage(absl::StrCat(arg, " needs a value"));
      bus_flags.emplace_back(arg, takes_value ? v : "");
    } else if (absl::StartsWith(arg, "-") && arg != "-") {
      return Usage(absl::StrCat("unknown flag ", arg));
    } else {
      options.positional.push_back(arg);
    }
  }
  options.config.tls.ca_file = cacert;
  options.config.tls.cert_file = cert;
  options.config.tls.key_file = key;
  options.config.retry = kei::RetryPolicy::None();
  if (!options.positional.empty() && options.positional[0] == "mcp") return RunMcp(options);
  if (!options.positional.empty() && options.positional[0] == "bus") {
    auto command = keictl::ParseBusCommand(
        std::vector<std::string>(options.positional.begin() + 1, options.positional.end()),
        bus_flags,
        timeout_set ? std::optional<absl::Duration>(options.call.timeout) : std::nullopt);
    if (!command.ok()) return Usage(std::string(command.status().message()));
    auto client = kei::KEIBusClient::Connect(command->url, options.config);
    if (!client.ok()) return Usage(std::string(client.status().message()));
    absl::Status status = keictl::RunBusCommand(**client, *command, options.call, std::cout);
    return status.ok() ? 0 : Fail(status);
  }
  if (!bus_flags.empty()) {
    return Usage(absl::StrCat(bus_flags[0].first, " is a flag of the bus commands"));
  }
  if (options.positional.size() < 2) return Usage("expected a command and a target");
  const std::string& command = options.positional[0];
  const std::string& target = options.positional[1];

  for (const auto& file : options.protosets) {
    if (auto s = kei::DescriptorRegistry::Default().LoadDescriptorSetFile(file); !s.ok()) return Fail(s);
  }
  auto transport = kei::ProtocolClientFactory::Default().CreateTransport(target, options.config);
  if (!transport.ok()) return Usage(std::string(transport.status().message()));

  if (command == "call") {
    if (options.positional.size() < 3 || options.positional.size() > 4) {
      return Usage("call needs <target> <method> [JSON]");
    }
    std::string json = options.positional.size() == 4 ? options.positional[3] : "{}";
    auto method = ResolveMethod(options.positional[2], *transport, options);
    if (!method.ok()) return Fail(method.status());
    if (method->kind != kei::StreamKind::kUnary) return RunStream(**transport, *method, json, options);
    auto result = kei::CallUnaryJson(**transport, kei::DescriptorRegistry::Default(),
                                     method->full_name, json, options.call,
                                     options.config.retry);
    if (!result.ok()) return Fail(result.status());
    std::cout << Render(*result, options.compact) << std::endl;
    return 0;
  }
  if (command == "health") {
    std::string service = options.positional.size() > 2 ? options.positional[2] : "";
    auto status = kei::CheckHealth(**transport, service, options.call);
    if (!status.ok()) return Fail(status.status());
    std::cout << *status << std::endl;
    return *status == "SERVING" ? 0 : static_cast<int>(absl::StatusCode::kUnavailable);
  }
  if (command == "list") {
    kei::ReflectionClient reflection(*transport);
    if (options.positional.size() > 2) {
      const std::string& service_name = options.positional[2];
      auto& registry = kei::DescriptorRegistry::Default();
      if (registry.FindService(service_name) == nullptr) {
        if (auto s = reflection.LoadSymbol(service_name, registry, options.call); !s.ok()) return Fail(s);
      }
      const auto* service = registry.FindService(service_name);
      if (service == nullptr) return Fail(absl::NotFoundError(absl::StrCat("no service ", service_name)));
      for (int i = 0; i < service->method_count(); ++i) {
        auto info = kei::MethodInfo::FromDescriptor(service->method(i));
        std::cout << info.full_name << " (" << kei::StreamKindName(info.kind) << ")\n";
      }
      return 0;
    }
    auto services = reflection.ListServices(options.call);
    if (!services.ok()) return Fail(services.status());
    for (const auto& s : *services) std::cout << s << "\n";
    return 0;
  }
  return Usage(absl::StrCat("unknown command '", command, "'"));
}

}  // namespace

int main(int argc, char** argv) { return Main(argc, argv); }
